"""Object-level agreement of a segmentation with the truth: objects found, F1 at an IoU threshold, mean matched IoU.

Objects are matched one to one (scipy's ``linear_sum_assignment`` maximising the summed IoU over the pairs at or above
the threshold; above 0.5 a pair is unique anyway). Works on 2D and 3D label images alike.

Imports: numpy, scipy (lazily); package: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np



@dataclass(frozen=True)
class Agreement:
    """Counts and scores of one comparison (or several pooled).

    Attributes
    ----------
    n_true, n_found : int
        Objects in the truth and in the segmentation.
    tp : int
        Matched pairs (IoU >= the threshold).
    iou_sum : float
        Sum of the IoU of the matched pairs.
    """

    n_true: int
    n_found: int
    tp: int
    iou_sum: float

    @property
    def fp(self) -> int:
        return self.n_found - self.tp

    @property
    def fn(self) -> int:
        return self.n_true - self.tp

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 1.0 when both sides are empty."""
        denom = self.n_true + self.n_found
        return 1.0 if denom == 0 else 2.0 * self.tp / denom

    @property
    def mean_iou(self) -> float:
        """Mean IoU of the matched pairs (NaN when nothing matched)."""
        return self.iou_sum / self.tp if self.tp else float("nan")

    def to_dict(self) -> dict:
        return {"n_true": self.n_true, "n_found": self.n_found, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "f1": self.f1, "mean_iou": None if not self.tp else self.mean_iou}


def agreement(truth: np.ndarray, found: np.ndarray, *, iou_threshold: float = 0.5) -> Agreement:
    """Compare two label images of the same shape (0 = background).

    Parameters
    ----------
    truth, found : ndarray, integer, same shape (2D or 3D)
    iou_threshold : float
        A pair counts as a match at IoU >= this value.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix

    t = np.asarray(truth).ravel()
    f = np.asarray(found).ravel()
    if t.shape != f.shape:
        raise ValueError(f"label images differ in size: {np.shape(truth)} and {np.shape(found)}")
    t_ids, t_inv = np.unique(t, return_inverse=True)
    f_ids, f_inv = np.unique(f, return_inverse=True)
    n_true = int((t_ids > 0).sum())
    n_found = int((f_ids > 0).sum())
    if not n_true or not n_found:
        return Agreement(n_true, n_found, 0, 0.0)
    inter = coo_matrix((np.ones(t.size, np.int64), (t_inv, f_inv)), shape=(len(t_ids), len(f_ids))).tocsr()
    inter.sum_duplicates()
    t_area = np.bincount(t_inv, minlength=len(t_ids))
    f_area = np.bincount(f_inv, minlength=len(f_ids))
    rows, cols = inter.nonzero()
    keep = (t_ids[rows] > 0) & (f_ids[cols] > 0)
    rows, cols = rows[keep], cols[keep]
    vals = np.asarray(inter[rows, cols]).ravel().astype(np.float64)
    iou = vals / (t_area[rows] + f_area[cols] - vals)
    ok = iou >= iou_threshold
    rows, cols, iou = rows[ok], cols[ok], iou[ok]
    if not len(rows):
        return Agreement(n_true, n_found, 0, 0.0)
    r_u, r_i = np.unique(rows, return_inverse=True)
    c_u, c_i = np.unique(cols, return_inverse=True)
    m = np.zeros((len(r_u), len(c_u)))
    m[r_i, c_i] = iou
    a, b = linear_sum_assignment(m, maximize=True)
    chosen = m[a, b]
    chosen = chosen[chosen >= iou_threshold]
    return Agreement(n_true, n_found, int(len(chosen)), float(chosen.sum()))


def pooled(items: Iterable[Agreement]) -> Agreement:
    """Several comparisons (e.g. frames) as one: counts and IoU sums added."""
    items = list(items)
    return Agreement(sum(a.n_true for a in items), sum(a.n_found for a in items), sum(a.tp for a in items),
                     float(sum(a.iou_sum for a in items)))
