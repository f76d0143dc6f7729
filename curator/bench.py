"""`curator bench`: a grid of strategies x seeds on one data set, model and budget, always
against ``random`` (plain shuffling of the full data).

Regimes: ``standard`` (the configured epochs and labels), ``budget`` (a fraction of the
epochs), ``noisy`` (``--noise`` of the training labels flipped); combine with ``+``
(``budget+noisy``). Scores come from a reference run on the regime's data: ``--scores`` when
its fingerprint matches, otherwise one is run first (and said so) into ``work_dir``.
Pruning strategies train on the kept samples for the same epochs, and (``steps``) for the
same number of optimisation steps as the full data (epochs / keep).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from curator.config import TrainConfig
from curator.corrections import Corrections
from curator.data import DataBundle
from curator.errors import ConfigError
from curator.flagging import file_mislabel, file_suggestions, planned_corrections
from curator.flags import MislabelFit
from curator.loop import resolve_device
from curator.pruning import STRATEGIES, PruneOptions, plan_selection
from curator.reference import score as reference_score
from curator.retrain import TrainPlan, TrainResult, environment, train
from curator.store import ScoresFile, open_scores
from samplers import SAMPLERS, SCHEMES

BASELINE = "random"
REGIMES = ("standard", "budget", "noisy")


@dataclass(frozen=True)
class Regime:
    name: str
    epochs: int
    label_noise: float


@dataclass(frozen=True)
class Strategy:
    name: str
    plan: TrainPlan = field(default_factory=TrainPlan)
    prune: str | None = None
    keep: float | None = None
    budget: str = "epochs"  # pruning: "epochs" (same epochs) or "steps" (same steps)
    samples_of: float | None = None  # random for fewer epochs: the samples of dynamic at this
    # "relabel": train on `curator relabel`'s corrections; "count": prune to as many samples
    # as relabel keeps (its drop-flagged twin, which keeps no flagged sample: at most the
    # unflagged, so it drops the flagged that relabel fixes)
    relabel: str | None = None

    @property
    def label(self) -> str:
        if self.samples_of is not None:
            return f"{self.name} (samples of dynamic skip {self.samples_of:g})"
        if self.relabel == "relabel":
            return f"{self.name} (flagged: confident suggestions relabelled, the rest dropped)"
        if self.relabel == "count":
            return f"{self.name} keep as many as relabel (at most the unflagged)"
        if self.prune is None:
            return self.name
        return f"{self.name} keep {self.keep:g} (same {self.budget})"


@dataclass
class Row:
    strategy: Strategy
    regime: Regime
    results: list[TrainResult]
    summary: dict[str, Any] = field(default_factory=dict)


def make_regimes(names: Sequence[str], *, epochs: int, budget: float = 0.25,
                 noise: float = 0.2, base_noise: float = 0.0) -> list[Regime]:
    out = []
    for name in names:
        parts = name.split("+")
        unknown = [p for p in parts if p not in REGIMES]
        if unknown:
            raise ConfigError(f"unknown regime {unknown[0]!r}",
                              hint=f"choose from {', '.join(REGIMES)}, combined with +")
        e = max(1, int(round(epochs * budget))) if "budget" in parts else epochs
        out.append(Regime(name, e, noise if "noisy" in parts else base_noise))
    return out


def make_strategies(*, orderings: Sequence[str] = (), schemes: Sequence[str] = (),
                    prune: Sequence[str] = (), keeps: Sequence[float] = (),
                    dynamic: Sequence[float] = (), relabel: bool = False,
                    plan: TrainPlan | None = None) -> list[Strategy]:
    """``random`` first, then the orderings, importance schemes, pruning strategies, for
    each dynamic skip share: the dynamic sampler, and random trained for fewer epochs so that
    it presents as many samples (the fair baseline of a saving); with ``relabel``: training
    on ``curator relabel``'s corrections, and the default pruning keeping as many samples."""
    base = plan or TrainPlan()
    out = [Strategy(BASELINE, replace(base, sampler="random"))]
    for name in orderings:
        if name not in SAMPLERS or name in (BASELINE, "importance"):
            raise ConfigError(f"unknown ordering {name!r}",
                              hint="choose from easy-to-hard, hard-to-easy, random-curriculum")
        out.append(Strategy(name, replace(base, sampler=name)))
    for scheme in schemes:
        if scheme not in SCHEMES:
            raise ConfigError(f"unknown importance scheme {scheme!r}",
                              hint=f"choose from {', '.join(SCHEMES.names())}")
        out.append(Strategy(f"importance {scheme}", replace(base, sampler="importance",
                                                            scheme=scheme)))
    for name in prune:
        STRATEGIES.get(name)
        for keep in keeps:
            if not 0 < keep <= 1:
                raise ConfigError(f"--keep must be fractions in (0, 1], but got {keep}")
            for budget in ("epochs", "steps"):
                out.append(Strategy(f"prune {name}", replace(base, sampler="random"), name,
                                    keep, budget))
    for share in dynamic:
        if not 0 < share <= base.max_rate:
            raise ConfigError(f"--dynamic shares must be in (0, {base.max_rate}], but got "
                              f"{share}")
        out.append(Strategy(f"dynamic skip {share:g}", replace(base, sampler="dynamic",
                                                               prune=share)))
        out.append(Strategy(BASELINE, replace(base, sampler="random"), samples_of=share))
    if relabel:
        out.append(Strategy("relabel", replace(base, sampler="random"), relabel="relabel"))
        out.append(Strategy("prune drop-flagged", replace(base, sampler="random"),
                            "drop-flagged", relabel="count"))
    return out


def dynamic_share(plan: TrainPlan, epochs: int, num_samples: int, *, prior: bool = True
                  ) -> float:
    """Samples the dynamic sampler of ``plan`` presents over ``epochs``, as a share of plain
    shuffling's (``prior``: it starts from a scores file's ranking)."""
    from samplers import DynamicPruningSampler

    sampler = DynamicPruningSampler(np.zeros(num_samples) if prior else None,
                                    num_samples=num_samples, epochs=epochs, prune=plan.prune,
                                    anneal=plan.anneal, max_rate=plan.max_rate)
    return sum(sampler.epoch_lengths()) / (epochs * num_samples)


def reference_scores(cfg: TrainConfig, bundle: DataBundle, *, scores: Path | None,
                     work_dir: Path, log: Callable[[str], None]) -> Path:
    """A scores file for ``cfg``'s data (``bundle``): ``scores`` if it matches, else a
    (cached) run."""
    if scores is not None:
        with open_scores(scores) as f:
            if f.fingerprint == bundle.fingerprint:
                return scores
        log(f"{scores} was scored on other data than label noise {cfg.label_noise}; "
            "running a reference run for it")
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"scores-{cfg.data.replace(':', '_').replace('/', '_')}-{cfg.model}-" \
                      f"noise{cfg.label_noise:g}-seed{cfg.noise_seed}-T{cfg.epochs}.h5"
    if path.exists():
        with open_scores(path) as f:
            if f.fingerprint == bundle.fingerprint and f.score_names():
                log(f"reusing the reference run {path}")
                return path
        path.unlink()
    log(f"reference run: {cfg.model} on {cfg.data} (label noise {cfg.label_noise}), "
        f"{cfg.seeds} seeds x {cfg.epochs} epochs -> {path}")
    reference_score(cfg.replace(probe="train", holdout=0, prediction_depth=False), out=path,
                    bundle=bundle)
    return path


def run_bench(cfg: TrainConfig, *, regimes: Sequence[Regime], strategies: Sequence[Strategy],
              seeds: int, score: str = "learnability", scores: Path | None = None,
              work_dir: Path = Path("bench-work"),
              log: Callable[[str], None] = lambda m: None) -> list[Row]:
    """Train every strategy in every regime over ``seeds`` seeds; summarise against random."""
    if seeds < 2:
        raise ConfigError(f"--seeds must be at least 2 for a t-test, but got {seeds}")
    if not strategies or strategies[0].name != BASELINE:
        raise ConfigError("the first strategy must be the random baseline")
    rows: list[Row] = []
    for regime in regimes:
        data_cfg = cfg.replace(label_noise=regime.label_noise)
        bundle = DataBundle.from_config(data_cfg)  # once per regime: reference run and all runs
        path = reference_scores(data_cfg, bundle, scores=scores, work_dir=work_dir, log=log)
        with open_scores(path) as f:
            s = f.score(score)
            mislabel = file_mislabel(f)
            fixes = (relabelled(f, mislabel) if any(st.relabel for st in strategies)
                     else None)
        for strategy in strategies:
            results = []
            indices = None
            epochs = regime.epochs
            if strategy.relabel is not None and fixes is None:
                log(f"{regime.name}: {strategy.label} skipped: {path} records no rival class "
                    "(format 0.1.0), so it has no suggested labels")
                continue
            if strategy.prune is not None:
                count = (max(1, int(round(strategy.keep * bundle.num_samples)))
                         if strategy.keep is not None
                         else int(fixes.kept().sum()))  # type: ignore[union-attr]
                indices = plan_selection(s.ease, count, strategy=strategy.prune,
                                         mislabel=mislabel,
                                         opts=PruneOptions(seed=cfg.seed)).indices
                if strategy.budget == "steps":
                    epochs = max(1, int(round(regime.epochs * bundle.num_samples
                                              / len(indices))))
            if strategy.samples_of is not None:
                share = dynamic_share(replace(strategy.plan, prune=strategy.samples_of),
                                      regime.epochs, bundle.num_samples)
                epochs = max(1, int(round(regime.epochs * share)))
            log(f"{regime.name}: {strategy.label}, {seeds} seeds x {epochs} epochs")
            for k in range(seeds):
                run_cfg = data_cfg.replace(seed=cfg.seed + k, epochs=epochs)
                plan = replace(strategy.plan, scores=str(path), score=score)
                results.append(train(run_cfg, plan, indices=indices, bundle=bundle,
                                     fixes=fixes if strategy.relabel == "relabel" else None))
            rows.append(Row(strategy, regime, results))
    summarise(rows)
    return rows


def relabelled(f: ScoresFile, mislabel: MislabelFit | None) -> Corrections | None:
    """``curator relabel``'s corrections of an open file, made in memory (nothing written);
    None when its runs do not record the rival class."""
    found = file_suggestions(f)
    if found is None or mislabel is None:
        return None
    suggested, confidence, _ = found
    return planned_corrections(f.fingerprint, f.labels, f.num_classes, mislabel.flagged,
                               suggested, confidence)


def epochs_to_reach(result: TrainResult, target: float) -> int | None:
    """The first epoch (1-based) whose test accuracy reaches ``target``."""
    for h in result.history:
        if h["test_acc"] >= target - 1e-12:
            return int(h["epoch"])
    return None


def summarise(rows: list[Row]) -> None:
    """Fill each row's summary: mean ± std, difference to random, Welch p, speed."""
    for regime in {r.regime for r in rows}:
        group = [r for r in rows if r.regime == regime]
        base = [res.final_test_acc for res in group[0].results]
        target = float(np.mean(base))
        full = group[0].results[0].samples_full  # what random presents
        for row in group:
            final = np.array([res.final_test_acc for res in row.results])
            best = np.array([res.best_test_acc for res in row.results])
            reach = [epochs_to_reach(res, target) for res in row.results]
            reached = [e for e in reach if e is not None]
            is_base = row is group[0]
            p = (float("nan") if is_base or (np.std(final) == 0 and np.std(base) == 0)
                 else float(stats.ttest_ind(final, base, equal_var=False).pvalue))
            row.summary = {
                "strategy": row.strategy.label, "keep": row.strategy.keep,
                "budget": row.strategy.budget if row.strategy.prune else None,
                "relabel": row.strategy.relabel,
                "regime": regime.name, "epochs": row.results[0].config["epochs"],
                "seeds": len(final), "test_acc_mean": float(final.mean()),
                "test_acc_std": float(final.std(ddof=1)),
                "best_acc_mean": float(best.mean()), "best_acc_std": float(best.std(ddof=1)),
                "delta_vs_random": float(final.mean() - target), "p_value": p,
                "wall_s": float(np.mean([res.wall_s for res in row.results])),
                "epochs_to_random_final": (float(np.mean(reached)) if reached else None),
                "seeds_reaching_random_final": len(reached),
                "num_train": row.results[0].num_train,
                "samples_vs_random": (float(np.mean([res.samples_seen for res in row.results]))
                                      / full if full else float("nan")),
                **_curve(row.results),
            }


def _curve(results: list[TrainResult]) -> dict[str, list[float]]:
    """Test accuracy per epoch, mean and std over the seeds (seeds of equal length)."""
    acc = np.array([[h["test_acc"] for h in r.history] for r in results], dtype=np.float64)
    return {"test_acc_per_epoch_mean": acc.mean(axis=0).tolist(),
            "test_acc_per_epoch_std": (acc.std(axis=0, ddof=1) if len(acc) > 1
                                       else np.zeros(acc.shape[1])).tolist()}


def to_json(rows: list[Row], cfg: TrainConfig) -> dict[str, Any]:
    return {"baseline": BASELINE, "results": [r.summary for r in rows],
            "config": cfg.to_dict(), "env": environment(resolve_device(cfg.device)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def fmt_p(p: float) -> str:
    return "-" if math.isnan(p) else f"{p:.3g}"


def to_markdown(rows: list[Row]) -> str:
    lines = ["| regime | strategy | epochs | final test acc | best test acc | Δ vs random | "
             "p (Welch) | epochs to random's final | samples vs random | wall s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        s = r.summary
        reach = ("-" if s["epochs_to_random_final"] is None else
                 f"{s['epochs_to_random_final']:.1f} ({s['seeds_reaching_random_final']}/"
                 f"{s['seeds']})")
        lines.append(f"| {s['regime']} | {s['strategy']} | {s['epochs']} | "
                     f"{s['test_acc_mean']:.4f} ± {s['test_acc_std']:.4f} | "
                     f"{s['best_acc_mean']:.4f} ± {s['best_acc_std']:.4f} | "
                     f"{s['delta_vs_random']:+.4f} | {fmt_p(s['p_value'])} | {reach} | "
                     f"{s['samples_vs_random']:.2f} | {s['wall_s']:.1f} |")
    return "\n".join(lines) + "\n"

