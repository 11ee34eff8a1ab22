#!/usr/bin/env bash
# Multi-node ZeRO-3 GRPO with a 3-RM pool: 4 nodes x 8 GPUs = 32 GPUs.
#   actor + ref: 2 nodes x 8 GPUs (ZeRO-3), vLLM: 8 engines x TP 2 = 16 GPUs on 2 nodes,
#   reward pool: the reward group spans the actor nodes (8 shards, ZeRO-3 eval partitioning: each
#   shard holds 1/8 of every RM, scoring is data-parallel in lockstep).
# Start Ray on every node first (`ray start --head` / `ray start --address HEAD:6379`), then submit
# from the head node. Workers need laser_plugin installed (pip install -e .) and the patch applied,
# or use the launcher module in the entrypoint.
set -euo pipefail
POLICY=${POLICY:-meta-llama/Llama-3.1-8B-Instruct}
POOL=${POOL:-"hf:Skywork/Skywork-Reward-V2-Llama-3.1-8B,hf:Skywork/Skywork-Reward-V2-Qwen3-8B,hf:internlm/internlm2-7b-reward"}

ray job submit --address="http://127.0.0.1:8265" \
  --runtime-env-json='{"working_dir": "."}' \
  -- python3 -m laser_plugin.launch openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path "$POLICY" --actor.num_nodes 2 --actor.num_gpus_per_node 8 \
  --ref.num_nodes 2 --ref.num_gpus_per_node 8 \
  --reward.num_nodes 1 --reward.num_gpus_per_node 8 \
  --vllm.num_engines 8 --vllm.tensor_parallel_size 2 \
  --ds.zero_stage 3 --ds.param_dtype bf16 --ds.attn_implementation flash_attention_2 \
  --algo.advantage.estimator group_norm --rollout.n_samples_per_prompt 8 \
  --rollout.batch_size 256 --rollout.micro_batch_size 16 --train.batch_size 256 --train.micro_batch_size 1 \
  --rollout.max_new_tokens 2048 --data.max_len 6144 \
  --data.prompt_dataset OpenRLHF/prompt-collection-v0.1 --data.input_key context_messages --data.apply_chat_template \
  --reward_selector laser --reward_pool "$POOL" --reward_selector.granularity group \
  --reward_selector.signal loss --reward_selector.signal_norm quantile \
  --ckpt.save_steps 10 --ckpt.path /shared/ckpt/grpo_laser_32 --logger.wandb.key "${WANDB_API_KEY:-}"
# --rollout.micro_batch_size 16 = 2 whole prompt groups per micro-batch; granularity group gives each
# group its own arm (a group never mixes arms).
