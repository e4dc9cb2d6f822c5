"""skorch callbacks that clip and early-stop each committee member on its own."""

import numpy as np
import torch
from skorch.callbacks import EarlyStopping, GradientNormClipping
from skorch.utils import to_numpy


def _n_members(net):
    return int(getattr(net.module_, "n_members", 1))


class MemberGradientNormClipping(GradientNormClipping):
    """Gradient-norm clipping applied to each committee member separately.

    With ``n_members=1`` this is exactly skorch's
    :class:`~skorch.callbacks.GradientNormClipping`. With a committee, the norm
    is taken over each member's slice of the gradients (the leading axis of
    every parameter), so a member is clipped as if it were trained alone and
    one member's large gradient never shrinks the others' updates.

    Parameters
    ----------
    gradient_clip_value : float, default=None
        Maximum norm per member; ``None`` disables clipping.
    gradient_clip_norm_type : float, default=2
        Order of the norm (``float("inf")`` for the max-norm).
    """

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if self.gradient_clip_value is None:
            return
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        if not grads:
            return
        M = _n_members(net)
        if any(g.dim() == 0 or g.shape[0] != M for g in grads):
            M = 1  # parameters without a member axis: clip them all together
        norm_type = float(self.gradient_clip_norm_type)
        norms = torch.stack(
            [
                torch.linalg.vector_norm(g.reshape(M, -1), norm_type, dim=1)
                for g in grads
            ],
            dim=1,
        )
        total = torch.linalg.vector_norm(norms, norm_type, dim=1)
        # The coefficient of torch.nn.utils.clip_grad_norm_, per member.
        coef = (self.gradient_clip_value / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(M, *([1] * (g.dim() - 1))))


class MemberEarlyStopping(EarlyStopping):
    """Early stopping on the validation loss, decided member by member.

    Each committee member keeps its own best validation loss, its own count of
    epochs without improvement and (``load_best=True``) its own best weights,
    so a committee stops like ``n_members`` separately early-stopped nets:
    training ends when every member has gone ``patience`` epochs without
    improving its validation loss by more than ``threshold``, and each member
    is restored to its best epoch. With ``n_members=1`` this is skorch's
    :class:`~skorch.callbacks.EarlyStopping` with ``load_best=True``. Epochs
    without validation data are ignored.

    Parameters
    ----------
    patience : int, default=50
        Epochs without improvement after which a member is done.
    threshold : float, default=1e-4
        Minimum improvement that counts.
    threshold_mode : {"rel", "abs"}, default="rel"
        Whether ``threshold`` is relative to the best loss or absolute.
    sink : callable, default=print
        Where the stopping message goes (when the net is verbose).
    load_best : bool, default=True
        Restore each member's weights from its best epoch at the end.

    Attributes
    ----------
    best_scores_ : ndarray of shape (n_members,)
        Best validation loss of each member.
    best_epochs_ : ndarray of shape (n_members,)
        Epoch (1-based, as in ``net.history``) of each member's best loss.
    misses_ : ndarray of shape (n_members,)
        Epochs since each member last improved.
    """

    def __init__(
        self,
        patience=50,
        threshold=1e-4,
        threshold_mode="rel",
        sink=print,
        load_best=True,
    ):
        super().__init__(
            monitor="valid_loss",
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=True,
            sink=sink,
            load_best=load_best,
        )

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        M = _n_members(net)
        self.misses_ = np.zeros(M, dtype=int)
        self.dynamic_threshold_ = np.full(M, np.inf)
        self.best_scores_ = np.full(M, np.inf)
        self.best_epochs_ = np.zeros(M, dtype=int)
        self.best_model_weights_ = None

    def on_epoch_begin(self, net, **kwargs):
        self.valid_loss_sum_ = None
        self.valid_count_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        member_loss = kwargs.get("member_loss")
        if training or member_loss is None:
            return
        n = len(batch[0])
        loss = to_numpy(member_loss.detach()).astype(np.float64) * n
        self.valid_loss_sum_ = (
            loss if self.valid_loss_sum_ is None else (self.valid_loss_sum_ + loss)
        )
        self.valid_count_ += n

    def on_epoch_end(self, net, **kwargs):
        if not getattr(self, "valid_count_", 0):
            return
        score = self.valid_loss_sum_ / self.valid_count_
        improved = score < self.dynamic_threshold_
        step = (
            self.threshold * score if self.threshold_mode == "rel" else self.threshold
        )
        self.dynamic_threshold_ = np.where(
            improved, score - step, self.dynamic_threshold_
        )
        self.misses_ = np.where(improved, 0, self.misses_ + 1)
        self.best_scores_ = np.where(improved, score, self.best_scores_)
        self.best_epochs_[improved] = net.history[-1, "epoch"]
        if self.load_best and improved.any():
            self._store_best(net.module_, improved)
        if (self.misses_ >= self.patience).all():
            self._sink(
                f"Stopping since valid_loss has not improved in the last "
                f"{self.patience} epochs for any of the {len(self.misses_)} "
                "member(s).",
                verbose=net.verbose,
            )
            raise KeyboardInterrupt

    def _store_best(self, module, improved):
        state = module.state_dict()
        M = len(improved)
        if self.best_model_weights_ is None or improved.all():
            self.best_model_weights_ = {k: v.detach().clone() for k, v in state.items()}
            return
        idx = torch.as_tensor(np.flatnonzero(improved))
        for key, value in state.items():
            best = self.best_model_weights_[key]
            if value.dim() > 0 and value.shape[0] == M:
                best[idx.to(value.device)] = value.detach()[idx.to(value.device)]
            else:
                best.copy_(value.detach())

    def on_train_end(self, net, **kwargs):
        if self.load_best and self.best_model_weights_ is not None:
            net.module_.load_state_dict(self.best_model_weights_)
