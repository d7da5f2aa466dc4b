#!/bin/bash
# Multi-node training on SLURM: one task per node, accelerate starts one process per GPU.
#   sbatch recipes/accelerate_configs/slurm_multi_node.sh kcelectra /path/to/unsmile
#SBATCH --job-name=unsmile
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:8
#SBATCH --cpus-per-task=32
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%j.out
set -euo pipefail
MODEL=${1:-kcelectra}
DATA_DIR=${2:?give the folder with the UnSmile TSVs}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
MAIN_IP=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
# Prepare the splits once, on one node, before training (every rank then reads the same files).
srun --nodes=1 --ntasks=1 python recipes/prepare_data.py --data_dir "$DATA_DIR" --output_dir outputs/data
srun bash -c "accelerate launch \
  --config_file recipes/accelerate_configs/multi_node.yaml \
  --num_machines $SLURM_NNODES --num_processes $((SLURM_NNODES * GPUS_PER_NODE)) \
  --machine_rank \$SLURM_NODEID --main_process_ip $MAIN_IP --main_process_port 29500 \
  recipes/train.py recipes/configs/$MODEL.yaml --prepared_data_dir outputs/data"
