#!/usr/bin/env bash
# LASeR iterative DPO (arXiv 2410.01735) on one node with 8 GPUs: an 8B policy, a pool of 3 public RMs,
# one RM chosen per batch of prompts by LinUCB, trained with OpenRLHF's DPO trainer, 3 rounds.
#   * 8 DeepSpeed ranks (ZeRO-2, bf16): policy + the fixed reference (the starting model) on each GPU;
#     each rank samples its share of the prompts with HF generate (temperature 0.8, N=8);
#   * rank 0 holds the bandit and the pool; with --reward_selector.residency 1 only ONE 8B RM is on
#     its GPU at a time (LRU offload to host memory), the others are untouched unless chosen;
#   * every micro-batch's DPO loss goes back to the bandit (LASeR's -loss, q20/q80 normalised),
#     all ranks hold the same bandit state (decided on rank 0, broadcast; losses gathered);
#   * a DeepSpeed + bandit checkpoint per round: rerun with --ckpt.load_enable to resume.
# LASeR trains with LoRA; add --ds.lora.rank 16 --ds.lora.alpha 32 --adam.lr 5e-6 for that setting.
# For faster sampling start OpenRLHF's vLLM engines on spare GPUs (see iterative_dpo_laser_multinode_zero3.sh).
set -euo pipefail
POLICY=${POLICY:-meta-llama/Llama-3.1-8B-Instruct}
POOL=${POOL:-"hf:Skywork/Skywork-Reward-V2-Llama-3.1-8B,hf:Skywork/Skywork-Reward-V2-Qwen3-8B,hf:internlm/internlm2-7b-reward"}
DATA=${DATA:-./data/laser_mix.jsonl}   # JSONL rows: {"prompt": ..., "answer": ..., "domain": "gsm8k|strategyqa|mmlu"}
OUT=${OUT:-./ckpt/laser_dpo_8b}

deepspeed --num_gpus 8 --module laser_plugin.cli iterative-dpo \
  --model.model_name_or_path "$POLICY" \
  --data.dataset "$DATA" --data.prompt_key prompt --data.label_key answer --data.domain_key domain \
  --data.apply_chat_template --data.max_len 2048 \
  --rollout.n_samples_per_prompt 8 --rollout.temperature 0.8 --rollout.top_p 0.95 \
  --rollout.max_new_tokens 512 --rollout.batch_size 32 \
  --laser.rounds 3 --laser.prompts_per_round 2048 --laser.score_batch_size 16 \
  --laser.pair_strategy top_bottom_k --laser.pairs_per_prompt 2 --laser.signal loss \
  --model.beta 0.1 --model.nll_loss_coef 0.2 \
  --train.micro_batch_size 2 --train.batch_size 64 --train.max_epochs 1 \
  --ds.zero_stage 2 --ds.param_dtype bf16 --ds.attn_implementation flash_attention_2 \
  --model.gradient_checkpointing_enable --adam.lr 5e-7 --lr_warmup_ratio 0.03 \
  --reward_selector laser --reward_pool "$POOL" --reward_selector.alpha 0.1 \
  --reward_selector.signal_norm quantile --reward_selector.context_dim 128 --reward_selector.residency 1 \
  --ckpt.output_dir "$OUT" --logger.tensorboard_dir "$OUT/tb"

# Accuracy per domain of the final policy and which RM the bandit chose per domain:
laser-plugin evaluate --model.model_name_or_path "$OUT" --data.dataset ./data/laser_mix_test.jsonl \
  --data.label_key answer --data.domain_key domain --data.apply_chat_template \
  --rollout.max_new_tokens 512 --eval.run_dir "$OUT" --eval.output "$OUT/eval.json"
