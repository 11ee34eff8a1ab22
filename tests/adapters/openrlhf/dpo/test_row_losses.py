"""Per-row DPO losses through upstream's DPOLoss and the row tags that carry each training row's
decision through OpenRLHF's collate (the adapter side of ``laser_plugin.dpo.credit``)."""
import pickle

import numpy as np
import pytest
import torch


def test_row_tags_survive_pickling_and_collate(cpu_compat):
    from laser_plugin.adapters.openrlhf.dpo.data import RowTaggedLens, tag_collate

    def collate(items):
        return ("c", "cm", "r", "rm", [len(x) for x in items])

    batch = tag_collate(collate)([(4, "ab"), (9, "xyz")])
    lens = batch[4]
    assert isinstance(lens, RowTaggedLens) and list(lens) == [2, 3] and lens.rows == (4, 9)
    again = pickle.loads(pickle.dumps(lens))  # DataLoader workers pickle batches
    assert again.rows == (4, 9) and list(again) == [2, 3] and list(again * 2) == [2, 3, 2, 3]


@pytest.mark.parametrize("ipo", [False, True])
def test_per_row_losses_are_upstream_dpo_loss_per_row(cpu_compat, ipo):
    from openrlhf.models import DPOLoss

    from laser_plugin.adapters.openrlhf.dpo.trainer import _RowLossDPO

    class Sink:
        _pending_rows = (11, 12, 13)

        def _on_rows(self, rows, losses):
            self.got = (rows.tolist(), losses)

    sink = Sink()
    inner = DPOLoss(beta=0.1, ipo=ipo)
    wrapped = _RowLossDPO(inner, sink)
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (torch.randn(3, generator=g, requires_grad=i < 2) for i in range(4))
    loss, chosen_r, rejected_r = wrapped(pc, pr, rc, rr)
    ref_loss = inner(pc, pr, rc, rr)[0]
    assert torch.equal(loss, ref_loss) and loss.requires_grad  # training loss unchanged
    rows, per_row = sink.got
    assert rows == [11, 12, 13] and sink._pending_rows is None
    assert np.mean(per_row) == pytest.approx(float(ref_loss.detach()), rel=1e-6)
    assert per_row[1] == pytest.approx(float(inner(pc[1:2], pr[1:2], rc[1:2], rr[1:2])[0].detach()))
