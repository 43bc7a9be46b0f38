"""Training stage: train state, optimiser (AdamW + warmup/cosine + clipping + EMA + frozen groups), FSDP sharding
over a (data, fsdp) mesh, orbax checkpoints with the data-iterator state, the jitted step and the loop (the
simulated evaluation of a trained checkpoint is `dexvlg_jax.eval`)."""
from dexvlg_jax.train.checkpoint import CheckpointError, Checkpointer, ConfigMismatchError, load_checkpoint
from dexvlg_jax.train.input_pipeline import DataConfig, SyntheticSource, make_train_loader
from dexvlg_jax.train.loop import TrainConfig, TrainResult, maybe_initialize_distributed, train
from dexvlg_jax.train.optimizer import OptimizerConfig, make_optimizer, make_schedule
from dexvlg_jax.train.sharding import fsdp_shardings, make_mesh, shard_batch
from dexvlg_jax.train.state import TrainState, init_train_state, train_state_layout
from dexvlg_jax.train.step import make_train_step, train_step
