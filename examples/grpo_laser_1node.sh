#!/usr/bin/env bash
# GRPO with a bandit-selected reward model per micro-batch, one node with 8 GPUs.
#   GPUs: 8 = actor/ref/vLLM colocated on 8 (--train.colocate_all) + the 3-RM pool shares them
#   (the pool is OpenRLHF's reward group: 8 shards x 0.2 GPU in the colocation placement group).
# Memory: Qwen3-8B policy + three 8B RMs with --reward_selector.residency 1 keep ONE RM on the GPU at
# a time (others offloaded to host memory, LRU); raise it if your GPUs have room for more.
# Without the patch, set LAUNCH="python3 -m laser_plugin.launch openrlhf.cli.train_ppo_ray" (same flags).
# Environment overrides: POLICY, POOL, DATA, GPUS (GPUs of the node), CKPT / LOGS (output folders),
# LAUNCH (the command), EXTRA_ARGS (flags appended last: argparse keeps the last value). A CPU dry run
# of this exact script: LAUNCH="python -m laser_plugin.launch --cpu-rollout openrlhf.cli.train_ppo_ray"
# with tiny models and small sizes in EXTRA_ARGS (tests/adapters/openrlhf/test_ppo_laser_e2e.py does it).
set -euo pipefail
POLICY=${POLICY:-Qwen/Qwen3-8B}
POOL=${POOL:-"hf:Skywork/Skywork-Reward-V2-Llama-3.1-8B,hf:Skywork/Skywork-Reward-V2-Qwen3-8B,func:examples/reward_funcs/math_verifier.py"}
DATA=${DATA:-OpenRLHF/prompt-collection-v0.1}
GPUS=${GPUS:-8}
CKPT=${CKPT:-./ckpt/grpo_laser}
LOGS=${LOGS:-./logs/grpo_laser}
LAUNCH=${LAUNCH:-"python3 -m openrlhf.cli.train_ppo_ray"}
EXTRA_ARGS=${EXTRA_ARGS:-}

if [[ "$LAUNCH" != *laser_plugin.launch* ]]; then
  laser-plugin patch-openrlhf   # idempotent; refuses an openrlhf version it does not know
fi

# shellcheck disable=SC2086  # LAUNCH and EXTRA_ARGS are word lists
$LAUNCH \
  --actor.model_name_or_path "$POLICY" --actor.num_nodes 1 --actor.num_gpus_per_node "$GPUS" \
  --ref.num_nodes 1 --ref.num_gpus_per_node "$GPUS" \
  --reward.num_nodes 1 --reward.num_gpus_per_node "$GPUS" \
  --vllm.num_engines "$GPUS" --vllm.tensor_parallel_size 1 --vllm.gpu_memory_utilization 0.5 --vllm.enable_sleep \
  --train.colocate_all --ds.zero_stage 3 --ds.param_dtype bf16 --ds.attn_implementation flash_attention_2 \
  --algo.advantage.estimator group_norm --rollout.n_samples_per_prompt 8 \
  --rollout.batch_size 128 --rollout.micro_batch_size 8 --train.batch_size 128 --train.micro_batch_size 2 \
  --rollout.max_new_tokens 1024 --data.max_len 4096 \
  --data.prompt_dataset "$DATA" --data.input_key context_messages --data.apply_chat_template \
  --actor.adam.lr 5e-7 --algo.kl.init_coef 0.01 \
  --reward_selector laser --reward_pool "$POOL" \
  --reward_selector.granularity group \
  --reward_selector.alpha 0.5 --reward_selector.residency 1 \
  --ckpt.save_steps 20 --ckpt.path "$CKPT" --logger.tensorboard_dir "$LOGS" \
  $EXTRA_ARGS
# --reward_selector.granularity group: one arm per prompt group (8 samples), whatever the micro-batch size.
# No --reward_selector.signal: the default, the cross-arm audit (a seeded ~1/8 of the groups is scored by
# every RM, each RM paid its agreement with the others: <= 1.25x one RM's scoring). With labelled prompts
# (--data.label_key) add --reward_selector.verifier math_verifier to learn from answer correctness.
