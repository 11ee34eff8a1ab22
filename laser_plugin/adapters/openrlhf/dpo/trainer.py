"""OpenRLHF's DPOTrainer with two small hooks that hand each micro-batch's loss to the bandit.

Upstream's ``fit`` is long and changes between releases, so it is not copied. Instead:
* ``concatenated_forward`` (called first with the policy for every training micro-batch) notes the
  rows of the micro-batch (the collate function tags ``prompt_id_lens`` with dataset indices) and,
  for the probe signal, measures the probe loss once per optimizer step;
* ``self.loss_fn`` (upstream's DPOLoss: DPO with beta, cDPO smoothing, or IPO) is wrapped so that the
  per-row preference losses of the micro-batch reach ``on_rows(rows, losses)`` before backward.
* ``save_logs_and_checkpoints`` adds the bandit's metrics and a global-step offset so TensorBoard /
  wandb curves continue across rounds; the logger is kept open across ``fit`` calls (one trainer,
  one run, many rounds).
The preference loss, NLL term and optimizer step stay upstream's.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import torch
from openrlhf.trainer.dpo_trainer import DPOTrainer

RowsCallback = Callable[[np.ndarray, np.ndarray], None]


class _RowLossDPO(torch.nn.Module):
    """Calls upstream's DPOLoss unchanged; also reports its per-row values (no gradient)."""

    def __init__(self, inner: torch.nn.Module, trainer: "LaserDPOTrainer") -> None:
        super().__init__()
        self.inner = inner
        self._trainer = [trainer]  # a list: not registered as a submodule

    def forward(self, chosen, rejected, ref_chosen, ref_rejected):
        out = self.inner(chosen, rejected, ref_chosen, ref_rejected)
        trainer = self._trainer[0]
        rows = trainer._pending_rows
        if rows is not None:
            trainer._pending_rows = None
            with torch.no_grad():
                per_row = [float(self.inner(chosen[i:i + 1].detach(), rejected[i:i + 1].detach(), ref_chosen[i:i + 1],
                                            ref_rejected[i:i + 1])[0]) for i in range(chosen.shape[0])]
            trainer._on_rows(np.asarray(rows, dtype=np.int64), np.asarray(per_row, dtype=np.float64))
        return out


class _KeepOpen:
    """Defers ``finish``/``close`` of a logger until the loop ends (upstream closes it after each fit)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in ("finish", "close"):
            return lambda *a, **k: None
        return getattr(self.inner, name)

    def really_close(self) -> None:
        closer = getattr(self.inner, "finish", None) or getattr(self.inner, "close", None)
        if closer is not None:
            closer()


class LaserDPOTrainer(DPOTrainer):
    """``on_rows(rows, losses)``: per-row DPO losses of each training micro-batch.
    ``on_step(rows, probe_loss)``: with a probe set, called at each optimizer-step boundary with
    the rows trained since the previous boundary and the probe loss measured now.
    ``extra_logs()``: merged into the logged metrics."""

    def __init__(self, *args: Any, on_rows: Optional[RowsCallback] = None,
                 on_step: Optional[Callable[[list, float], None]] = None, probe_batches: Optional[list] = None,
                 extra_logs: Optional[Callable[[], dict]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = _RowLossDPO(self.loss_fn, self)
        self._on_rows_cb, self._on_step, self._extra_logs = on_rows, on_step, extra_logs
        self._pending_rows: Optional[tuple] = None
        self._probe = list(probe_batches or [])
        self._probe_ref: list = []
        self._micro_step = 0
        self._step_rows: list[int] = []
        self.step_offset = 0
        self.last_logs: dict = {}
        if self._wandb is not None:
            self._wandb = _KeepOpen(self._wandb)
        if self._tensorboard is not None:
            self._tensorboard = _KeepOpen(self._tensorboard)

    # ------------------------------------------------------------------ hooks
    def concatenated_forward(self, model, chosen_ids, c_mask, reject_ids, r_mask, prompt_id_lens):
        rows = getattr(prompt_id_lens, "rows", None)
        if model is self.model and self.model.training and rows is not None:
            if self._probe and self._micro_step % self.strategy.accumulated_gradient == 0:
                self.probe_boundary()
            self._micro_step += 1
            self._step_rows.extend(rows)
            self._pending_rows = rows
            prompt_id_lens = list(prompt_id_lens)
        return super().concatenated_forward(model, chosen_ids, c_mask, reject_ids, r_mask, prompt_id_lens)

    def _on_rows(self, rows: np.ndarray, losses: np.ndarray) -> None:
        if self._on_rows_cb is not None:
            self._on_rows_cb(rows, losses)

    def save_logs_and_checkpoints(self, args, global_step, step_bar, logs_dict=None, client_states=None):
        logs_dict = dict(logs_dict or {})
        if self._extra_logs is not None:
            logs_dict.update(self._extra_logs())
        self.last_logs = logs_dict
        super().save_logs_and_checkpoints(args, global_step + self.step_offset, step_bar, logs_dict, client_states)

    # ------------------------------------------------------------------ probe
    @torch.no_grad()
    def probe_loss(self) -> float:
        """Mean DPO loss of the policy on the probe pairs (reference log-probs cached: the reference
        never changes)."""
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        total, count = 0.0, 0
        for k, (chosen, c_mask, reject, r_mask, lens) in enumerate(self._probe):
            args = (chosen.squeeze(1).to(device), c_mask.squeeze(1).to(device), reject.squeeze(1).to(device),
                    r_mask.squeeze(1).to(device), list(lens))
            if k >= len(self._probe_ref):
                self._probe_ref.append(super().concatenated_forward(self.ref_model, *args)[:2])
            pc, pr, _, _ = super().concatenated_forward(self.model, *args)
            loss, _, _ = self.loss_fn.inner(pc, pr, *self._probe_ref[k])
            total += float(loss) * pc.shape[0]
            count += pc.shape[0]
        self.model.train(was_training)
        return total / max(count, 1)

    def probe_boundary(self) -> None:
        """Measure the probe loss now (an optimizer step just ended, or the round starts/ends) and
        report the rows trained since the last boundary."""
        if not self._probe:
            return
        loss = self.probe_loss()
        rows, self._step_rows = self._step_rows, []
        if self._on_step is not None:
            self._on_step(rows, loss)

    # ------------------------------------------------------------------ rounds
    def run_round(self, args: Any, dataloader: Any, steps: int) -> dict:
        """One round of upstream ``fit`` on a new dataloader; returns the last logged metrics."""
        self.train_dataloader = dataloader
        self._micro_step, self._step_rows = 0, []
        self.last_logs = {}
        self.fit(args, consumed_samples=0, num_update_steps_per_epoch=steps)
        if self._probe:
            self.probe_boundary()  # the round's last optimizer step
        self.step_offset += steps * self.epochs
        return dict(self.last_logs)

    def log_scalars(self, prefix: str, values: dict, step: int) -> None:
        """Numeric entries of ``values`` (nested dicts flattened) to wandb / TensorBoard, rank 0 only."""
        if not self.strategy.is_rank_0():
            return
        flat: dict[str, float] = {}

        def walk(key: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{key}/{k}", v)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                flat[key] = float(value)

        walk(prefix, values)
        if self._wandb is not None:
            self._wandb.log({**flat, f"{prefix}/round": step})
        elif self._tensorboard is not None:
            for k, v in flat.items():
                self._tensorboard.add_scalar(k, v, step)

    def close_loggers(self) -> None:
        for logger in (self._wandb, self._tensorboard):
            if isinstance(logger, _KeepOpen) and self.strategy.is_rank_0():
                logger.really_close()


__all__ = ["LaserDPOTrainer"]
