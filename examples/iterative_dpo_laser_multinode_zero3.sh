#!/usr/bin/env bash
# LASeR iterative DPO on several nodes with ZeRO-3: 2 nodes x 8 GPUs of DeepSpeed ranks (policy and
# reference partitioned with ZeRO-3), sampling by OpenRLHF's vLLM engines (create_vllm_engines) on a
# separate Ray cluster of spare GPUs, a pool of 3 public 8B RMs on rank 0 (one resident at a time).
#
# Sampling: under ZeRO-3, HF generate gathers every layer's weights per token, so sample with vLLM:
# rank 0 starts --vllm.num_engines engines in the Ray cluster it finds (RAY_ADDRESS); after each round
# the updated policy is saved as an HF checkpoint and the engines are rebuilt from it (no NCCL weight
# sync outside PPO's actor group). With LoRA the saved folder holds only the adapter, so use full
# fine-tuning with vLLM (or --vllm.num_engines 0 and HF generate with LoRA).
# NOTE: this vLLM path needs GPUs and was not exercised by this repository's CPU tests.
#
# 1) on a third node with 8 GPUs for vLLM:      ray start --head --port 6379 --num-gpus 8
# 2) on the training nodes, list them in a hostfile ("node1 slots=8", "node2 slots=8"), then:
set -euo pipefail
POLICY=${POLICY:-meta-llama/Llama-3.1-8B-Instruct}
POOL=${POOL:-"hf:Skywork/Skywork-Reward-V2-Llama-3.1-8B,hf:Skywork/Skywork-Reward-V2-Qwen3-8B,hf:internlm/internlm2-7b-reward"}
DATA=${DATA:-/shared/data/laser_mix.jsonl}
OUT=${OUT:-/shared/ckpt/laser_dpo_8b_zero3}
export RAY_ADDRESS=${RAY_ADDRESS:-vllm-node:6379}

deepspeed --hostfile hostfile --num_nodes 2 --num_gpus 8 --module laser_plugin.cli iterative-dpo \
  --model.model_name_or_path "$POLICY" \
  --data.dataset "$DATA" --data.prompt_key prompt --data.label_key answer --data.domain_key domain \
  --data.apply_chat_template --data.max_len 4096 \
  --vllm.num_engines 4 --vllm.tensor_parallel_size 2 --vllm.gpu_memory_utilization 0.85 \
  --rollout.n_samples_per_prompt 30 --rollout.temperature 0.8 --rollout.max_new_tokens 1024 \
  --laser.rounds 4 --laser.prompts_per_round 4096 --laser.score_batch_size 16 \
  --laser.pair_strategy top_bottom_k --laser.pairs_per_prompt 10 \
  --laser.signal probe --laser.probe_dataset /shared/data/probe_pairs.jsonl \
  --model.beta 0.1 --model.nll_loss_coef 0.2 \
  --train.micro_batch_size 1 --train.batch_size 128 \
  --ds.zero_stage 3 --ds.param_dtype bf16 --ds.attn_implementation flash_attention_2 \
  --model.gradient_checkpointing_enable --adam.lr 5e-7 \
  --reward_selector laser --reward_pool "$POOL" --reward_selector.context_dim 128 \
  --reward_selector.residency 1 \
  --ckpt.output_dir "$OUT" --ckpt.load_enable --logger.wandb.key "${WANDB_API_KEY:-}"
# 30 samples -> 10 top-vs-bottom pairs per prompt is the paper's setting. --laser.signal probe
# rewards an arm by how much its pairs lower the DPO loss on trusted held-out pairs (resists RMs whose
# preferences are easy to fit but wrong); drop it for LASeR's own -loss signal.
