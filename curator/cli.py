"""The ``curator`` command line: ``score`` and ``inspect``.

Errors a person can act on (:class:`~curator.errors.CuratorError`) print ``Error:`` and
``Hint:`` lines on stderr and exit 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator
from inspect import cleandoc
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from curator.config import MODEL_NAMES, TrainConfig, config_from_dict, load_config
from curator.errors import CuratorError, check_output_dir

if TYPE_CHECKING:  # numpy is imported where it is used: `curator --help` stays fast
    import numpy as np

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Score training samples by learnability and use the scores.")
out_console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])


def _errors(fn: F) -> F:
    """Turn CuratorError (and Ctrl-C) into `Error:` / `Hint:` lines and exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CuratorError as exc:
            if _state["debug"]:
                raise
            message, hint = exc.as_flag()
            err_console.print(f"[bold red]Error:[/] {message}", highlight=False,
                              soft_wrap=True)
            if hint:
                err_console.print(f"[bold]Hint:[/] {hint}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            err_console.print("[bold red]Error:[/] interrupted", highlight=False)
            err_console.print("[bold]Hint:[/] finished epochs are kept; continue with "
                              "`curator score --resume` and the same --out", highlight=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False
          ) -> None:
    _state["debug"] = debug


# options shared by `score` and `train` (each maps to a TrainConfig key); they default to
# None so that a --config file can set them, and their help shows TrainConfig's default
_DEFAULTS = TrainConfig()


def _help(key: str, text: str) -> str:
    return f"{text} (default {getattr(_DEFAULTS, key)})"


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config; flags override it.")]
DataOpt = Annotated[str | None, typer.Option("--data", help=_help(
    "data", "digits | npz:PATH | mnist1d | cifar10 | cifar100 | mnist | fashion-mnist | svhn | "
            "imagefolder:DIR | package.module:function"))]
ModelOpt = Annotated[str | None, typer.Option("--model", help=_help(
    "model", f"One of: {', '.join(MODEL_NAMES)}; or package.module:function."))]
EpochsOpt = Annotated[int | None, typer.Option("--epochs", help=_help("epochs",
                                                                      "Training epochs."))]
SeedOpt = Annotated[int | None, typer.Option("--seed", help=_help(
    "seed", "Training seed (of the first run)."))]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help=_help(
    "batch_size", "Samples per step."))]
LrOpt = Annotated[float | None, typer.Option("--lr", help=_help("lr", "Peak learning rate."))]
MomentumOpt = Annotated[float | None, typer.Option(help=_help("momentum", "SGD momentum."))]
WeightDecayOpt = Annotated[float | None, typer.Option(help=_help(
    "weight_decay", "L2 on the weights (not biases and norms)."))]
WarmupOpt = Annotated[float | None, typer.Option(help=_help(
    "warmup_epochs", "Linear warm-up, in epochs."))]
NoiseSeedOpt = Annotated[int | None, typer.Option(help=_help(
    "noise_seed", "Seed of the label flips."))]
WorkersOpt = Annotated[int | None, typer.Option(help=_help(
    "num_workers", "DataLoader workers for file-based data."))]
ScheduleOpt = Annotated[str | None, typer.Option("--schedule", help=_help(
    "schedule", "cosine | constant | step"))]
AugmentOpt = Annotated[str | None, typer.Option("--augment", help=_help(
    "augment", "none | flip | crop-flip"))]
DeviceOpt = Annotated[str | None, typer.Option("--device", help=_help(
    "device", "auto | cpu | cuda | cuda:N | mps"))]
AmpOpt = Annotated[str | None, typer.Option("--amp", help=_help("amp", "auto | bf16 | fp16 | off"))]
NoiseOpt = Annotated[float | None, typer.Option("--label-noise", help=_help(
    "label_noise", "Fraction of training labels to flip."))]
NoiseKindOpt = Annotated[str | None, typer.Option("--noise-kind", help=_help(
    "noise_kind", "symmetric (to any other class) | asymmetric (each class to its most "
                  "confusable one) | pairs (confusable pairs, both ways) | classdep (rates "
                  "by class) | instance (ambiguous samples, to the class they resemble)"))]
NoiseTestOpt = Annotated[bool | None, typer.Option(
    "--noise-test/--no-noise-test", help=_help(
        "noise_test", "Flip the test labels the same way (as real data sets' are)."))]
RootOpt = Annotated[str | None, typer.Option("--root", help=_help(
    "root", "Directory of torchvision data."))]
DownloadOpt = Annotated[bool | None, typer.Option(
    "--download/--no-download", help=_help("download", "Let torchvision download the data."))]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
CompileOpt = Annotated[bool | None, typer.Option(
    "--compile/--no-compile", help="torch.compile the model (CUDA).")]
ChannelsLastOpt = Annotated[str | None, typer.Option(
    "--channels-last", help="auto (on CUDA for images) | on | off")]


@contextlib.contextmanager
def _processes(cfg: TrainConfig) -> Iterator[tuple[Any, TrainConfig]]:
    """Join torchrun's process group when there is one (each rank gets its device); yield
    the context and the config with this rank's device."""
    from curator.distributed import setup, teardown

    ctx, device = setup(cfg.device)
    try:
        yield ctx, cfg.replace(device=device)
    finally:
        teardown(ctx)


CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


def _config_flags(params: dict[str, Any]) -> dict[str, Any]:
    """A command's parameters that are TrainConfig keys (its flags, named as the keys)."""
    return {k: v for k, v in params.items() if k in CONFIG_KEYS}


def _config(config: Path | None, flags: dict[str, Any]) -> tuple[TrainConfig, set[str]]:
    """Defaults < config file < the flags that were given; and the keys counted as given."""
    given = {k: v for k, v in flags.items() if v is not None}
    cfg = load_config(config) if config is not None else TrainConfig()
    cfg = config_from_dict(given, base=cfg, source="the command line")
    # with a config file, every key of it counts as given (a resume must match them all)
    keys = set(given) | ({f.name for f in dataclasses.fields(TrainConfig)}
                         if config is not None else set())
    return cfg, keys


@app.command()
@_errors
def score(
    config: ConfigOpt = None, data: DataOpt = None, model: ModelOpt = None,
    epochs: EpochsOpt = None,
    seeds: Annotated[int | None, typer.Option(help=_help("seeds", "Independent runs R."))] = None,
    seed: SeedOpt = None, batch_size: BatchOpt = None, lr: LrOpt = None,
    momentum: MomentumOpt = None, weight_decay: WeightDecayOpt = None,
    schedule: ScheduleOpt = None, warmup_epochs: WarmupOpt = None, augment: AugmentOpt = None,
    probe: Annotated[str | None, typer.Option(help=_help(
        "probe", "train (from the training pass) | eval (extra eval pass) | none"))] = None,
    device: DeviceOpt = None, amp: AmpOpt = None, label_noise: NoiseOpt = None,
    noise_seed: NoiseSeedOpt = None, noise_kind: NoiseKindOpt = None,
    noise_test: NoiseTestOpt = None,
    root: RootOpt = None, download: DownloadOpt = None,
    image_size: Annotated[int | None, typer.Option(help=_help(
        "image_size", "imagefolder image size (0: the first image's)."))] = None,
    num_workers: WorkersOpt = None,
    prediction_depth: Annotated[bool | None, typer.Option(
        "--prediction-depth/--no-prediction-depth",
        help="k-NN probes on each run's final model (seed 002).")] = None,
    knn_k: Annotated[int | None, typer.Option(help=_help(
        "knn_k", "Neighbours of the depth probes."))] = None,
    holdout: Annotated[int | None, typer.Option(
        help="K > 1: also train K models per seed, each without one fold "
             "(held-out scores).")] = None,
    el2n_epoch: Annotated[int | None, typer.Option(
        help="Epoch (1-based) of the el2n score; default 10% of T.")] = None,
    easy_epochs: Annotated[int | None, typer.Option(
        help="First epochs counted by easiness; default 20% of T.")] = None,
    budget: Annotated[float | None, typer.Option(
        help="Score at this share of the cost: 1 seed x round(B x seeds x epochs) epochs "
             "(e.g. 0.1; fidelity measured in docs/scores.md).")] = None,
    out: Annotated[Path, typer.Option(help="Scores file to write.")] = Path("scores.h5"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted file.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    compile: CompileOpt = None, channels_last: ChannelsLastOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run the reference training run(s) and write per-sample trajectories and scores.

    A flag left out takes the --config file's value, else the default shown.

    Examples:
      curator score
      curator score --model cnn --label-noise 0.2 --out noisy.h5
      curator score --budget 0.2     (one seed, a fifth of the cost)
    """
    from curator.progress import TrainingProgress
    from curator.reference import score as run_score

    cfg, overrides = _config(config, _config_flags(locals()))
    if budget is not None and not resume:
        full = cfg
        cfg = cfg.with_budget(budget)
        overrides |= {"seeds", "epochs"}
        if not quiet:
            err_console.print(f"budget {budget:g}: 1 seed x {cfg.epochs} epochs instead of "
                              f"{full.seeds} x {full.epochs}", highlight=False)
    with _processes(cfg) as (ctx, cfg):
        progress = TrainingProgress(err_console, enabled=not quiet and ctx.is_main)
        summary = run_score(cfg, out=out, resume=resume, force=force, progress=progress,
                            overrides=overrides, ctx=ctx,
                            score_options={"el2n_epoch": el2n_epoch,
                                           "easy_epochs": easy_epochs})
    if not ctx.is_main:
        return
    out_console.print(f"wrote [bold]{summary.path}[/]: {len(summary.runs)} runs, "
                      f"{summary.seconds:.1f} s of training; scores: "
                      f"{', '.join(summary.scores) or 'none (--probe none)'}", highlight=False)


@app.command()
@_errors
def train(
    config: ConfigOpt = None, data: DataOpt = None, model: ModelOpt = None,
    epochs: EpochsOpt = None, seed: SeedOpt = None, batch_size: BatchOpt = None,
    lr: LrOpt = None, momentum: MomentumOpt = None, weight_decay: WeightDecayOpt = None,
    schedule: ScheduleOpt = None, warmup_epochs: WarmupOpt = None, augment: AugmentOpt = None,
    device: DeviceOpt = None, amp: AmpOpt = None, label_noise: NoiseOpt = None,
    noise_seed: NoiseSeedOpt = None, noise_kind: NoiseKindOpt = None,
    noise_test: NoiseTestOpt = None,
    root: RootOpt = None, download: DownloadOpt = None,
    num_workers: WorkersOpt = None,
    sampler: Annotated[str, typer.Option(
        help="random | easy-to-hard | hard-to-easy | random-curriculum | importance | "
             "dynamic (skip well-learned samples as training goes; --scores optional). "
             "random (plain shuffling) is the baseline: on clean data a curriculum seldom "
             "beats it and costs points in short runs (docs/samplers.md); measure with "
             "curator bench before choosing one")
    ] = "random",
    scores: Annotated[Path | None, typer.Option(help="Scores file (curator score).")] = None,
    score: Annotated[str, typer.Option(help="Score that orders the samples.")
                     ] = "learnability",
    subset: Annotated[str | None, typer.Option(
        help="Train on a selection stored in --scores (curator prune).")] = None,
    corrections: Annotated[Path | None, typer.Option(
        help="Train with the labels of a corrections file made from --scores (curator "
             "relabel, curator review): relabelled samples take their new label, dropped "
             "ones are left out (of the --subset too).")] = None,
    pacing: Annotated[str, typer.Option(help="Curriculum pacing g(s).")] = "linear",
    start: Annotated[float, typer.Option(help="g(0): fraction used at first.")] = 0.1,
    saturation: Annotated[float, typer.Option(help="Progress at which all data is used.")
                          ] = 0.8,
    unit: Annotated[str, typer.Option(help="Progress in epochs or steps.")] = "epoch",
    class_balanced: Annotated[bool, typer.Option(
        "--class-balanced", help="Curriculum pools keep each class's share.")] = False,
    scheme: Annotated[str, typer.Option(
        help="Importance: easy-first | hard-first | medium-first | two-ends-first")
    ] = "easy-first",
    temperature: Annotated[float, typer.Option(help="Importance temperature.")] = 0.25,
    floor: Annotated[float, typer.Option(help="Importance probability floor (x 1/N).")] = 0.1,
    unbiased: Annotated[bool, typer.Option(
        "--unbiased/--biased", help="Importance: weight losses by 1/(N p).")] = True,
    skip: Annotated[float, typer.Option(
        help="Dynamic: share of the samples skipped in each pruning epoch.",
        show_default=True)] = 0.4,
    anneal: Annotated[float, typer.Option(
        help="Dynamic: the last share of the epochs trains on everything.",
        show_default=True)] = 0.125,
    out: Annotated[Path | None, typer.Option(help="Write the result as JSON.")] = None,
    compile: CompileOpt = None, channels_last: ChannelsLastOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train again with a sampler and/or on a pruned selection; report test accuracy.

    Examples:
      curator train --scores scores.h5 --sampler easy-to-hard
      curator train --scores scores.h5 --subset drop-flagged-learnability-0.7
      curator train --scores scores.h5 --corrections corrections.csv
      curator train --sampler dynamic --skip 0.4
    """
    from curator.progress import TrainingProgress
    from curator.retrain import TrainPlan
    from curator.retrain import train as run_train

    cfg, given = _config(config, _config_flags(locals()))
    if scores is not None:  # the data the scores were made on, unless given explicitly
        from curator.retrain import with_data_of

        cfg = with_data_of(cfg, scores, given=set(given))
    if out is not None:
        check_output_dir(out)
    plan = TrainPlan(sampler=sampler, scores=None if scores is None else str(scores),
                     score=score, subset=subset,
                     corrections=None if corrections is None else str(corrections),
                     pacing=pacing, start=start,
                     saturation=saturation, unit=unit, class_balanced=class_balanced,
                     scheme=scheme, temperature=temperature, floor=floor, unbiased=unbiased,
                     prune=skip, anneal=anneal)
    with _processes(cfg) as (ctx, cfg):
        result = run_train(cfg, plan, ctx=ctx,
                           progress=TrainingProgress(err_console, enabled=not quiet
                                                     and ctx.is_main))
    if not ctx.is_main:
        return
    table = Table(title=f"{sampler} on {result.num_train} samples"
                  + (f" (selection {subset!r})" if subset else "")
                  + (f" with the corrections of {corrections}" if corrections else ""),
                  title_justify="left")
    for col in ("epoch", "samples", "train loss", "train acc", "test acc", "seconds"):
        table.add_column(col, justify="right")
    for h in result.history:
        table.add_row(str(h["epoch"]), f"{int(h['samples']):,}", f"{h['train_loss']:.4f}",
                      _pct(h["train_acc"]), _pct(h["test_acc"]), f"{h['seconds']:.2f}")
    if not quiet:  # -q: only the summary line
        out_console.print(table)
    out_console.print(f"final test accuracy {_pct(result.final_test_acc)}, best "
                      f"{_pct(result.best_test_acc)}, {result.wall_s:.1f} s; samples presented "
                      f"{result.samples_seen:,} ({result.samples_seen / result.samples_full:.0%}"
                      " of plain shuffling's)", highlight=False)
    if out is not None:
        out.write_text(result.to_json())
        out_console.print(f"wrote {out}", highlight=False)


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
@_errors
def bench(
    config: ConfigOpt = None, data: DataOpt = None, model: ModelOpt = None,
    epochs: EpochsOpt = None, seed: SeedOpt = None, batch_size: BatchOpt = None,
    lr: LrOpt = None, augment: AugmentOpt = None, device: DeviceOpt = None,
    label_noise: NoiseOpt = None, noise_seed: NoiseSeedOpt = None,
    noise_kind: NoiseKindOpt = None, noise_test: NoiseTestOpt = None,
    root: RootOpt = None,
    download: DownloadOpt = None,
    seeds: Annotated[int, typer.Option(help="Seeds per strategy (>= 2).")] = 3,
    ref_seeds: Annotated[int, typer.Option(help="Seeds of a reference run made here.")] = 3,
    scores: Annotated[Path | None, typer.Option(help="Reference scores (else one is run).")
                      ] = None,
    score: Annotated[str, typer.Option(help="The score strategies use.")] = "learnability",
    orderings: Annotated[str, typer.Option(help="Comma-separated curriculum samplers.")
                         ] = "easy-to-hard,hard-to-easy,random-curriculum",
    schemes: Annotated[str, typer.Option(help="Comma-separated importance schemes.")
                       ] = "easy-first,hard-first",
    prune_strategies: Annotated[str, typer.Option(
        "--prune", help="Comma-separated prune strategies ('' for none).")
    ] = "drop-flagged,stratified,easy,random",
    keep: Annotated[str, typer.Option(help="Comma-separated keep fractions.")] = "0.7",
    dynamic: Annotated[str, typer.Option(
        help="Comma-separated skip shares of the dynamic sampler ('' for none); each also "
             "runs random for fewer epochs with as many samples.")] = "0.4",
    relabel: Annotated[bool, typer.Option(
        "--relabel/--no-relabel",
        help="Also train on `curator relabel`'s corrections (the flagged with a confident "
             "suggestion relabelled, the rest dropped), and the default pruning keeping as "
             "many samples.")] = True,
    regimes: Annotated[str, typer.Option(
        help="Comma-separated: standard, budget, noisy, or combinations like budget+noisy.")
    ] = "standard,budget,noisy",
    budget: Annotated[float, typer.Option(help="Share of the epochs in 'budget'.")] = 0.25,
    noise: Annotated[float, typer.Option(help="Label noise of 'noisy'.")] = 0.2,
    pacing: Annotated[str, typer.Option(help="Curriculum pacing.")] = "linear",
    start: Annotated[float, typer.Option(help="Curriculum start fraction.")] = 0.1,
    saturation: Annotated[float, typer.Option(help="Curriculum saturation.")] = 0.8,
    work: Annotated[Path, typer.Option(help="Folder for reference runs made here.")
                    ] = Path("bench-work"),
    out: Annotated[Path | None, typer.Option(help="Write results as JSON.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown table.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare orderings, importance sampling and pruning with random, over seeds.

    The default grid trains 3 regimes x 15 strategies x 3 seeds (minutes for digits on a
    CPU).

    Example:
      curator bench --seeds 3 --out results.json --markdown results.md
    """
    import json

    from curator.bench import (
        fmt_p,
        make_regimes,
        make_strategies,
        run_bench,
        to_json,
        to_markdown,
    )
    from curator.retrain import TrainPlan

    cfg, _ = _config(config, {**_config_flags(locals()), "seeds": ref_seeds})
    for path in (out, markdown):
        if path is not None:
            check_output_dir(path)
    try:
        keeps = [float(k) for k in _names(keep)]
        shares = [float(k) for k in _names(dynamic)]
    except ValueError:
        raise CuratorError(f"--keep and --dynamic must be comma-separated fractions, but got "
                           f"{keep!r} and {dynamic!r}") from None
    grid = make_strategies(orderings=_names(orderings), schemes=_names(schemes),
                           prune=_names(prune_strategies), keeps=keeps, dynamic=shares,
                           relabel=relabel,
                           plan=TrainPlan(pacing=pacing, start=start, saturation=saturation))
    regime_list = make_regimes(_names(regimes), epochs=cfg.epochs, budget=budget, noise=noise,
                               base_noise=cfg.label_noise)
    log = (lambda m: None) if quiet else (lambda m: err_console.print(m, highlight=False))
    rows = run_bench(cfg, regimes=regime_list, strategies=grid, seeds=seeds, score=score,
                     scores=scores, work_dir=work, log=log)
    for regime in regime_list:
        table = Table(title=f"{regime.name}: {cfg.model} on {cfg.data}, label noise "
                      f"{regime.label_noise}, {regime.epochs} epochs, {seeds} seeds",
                      title_justify="left")
        for col in ("strategy", "final test acc", "Δ vs random", "p", "best", "to random",
                    "samples", "s/run"):
            table.add_column(col, justify="left" if col == "strategy" else "right")
        for row in (r for r in rows if r.regime == regime):
            s = row.summary
            reach = "-" if s["epochs_to_random_final"] is None else \
                f"{s['epochs_to_random_final']:.1f}"
            table.add_row(s["strategy"] + ("" if s["epochs"] == regime.epochs
                                           else f" [{s['epochs']} ep]"),
                          f"{s['test_acc_mean']:.4f} ± {s['test_acc_std']:.4f}",
                          f"{s['delta_vs_random']:+.4f}",
                          fmt_p(s["p_value"]), f"{s['best_acc_mean']:.4f}", reach,
                          f"{s['samples_vs_random']:.2f}", f"{s['wall_s']:.1f}")
        out_console.print(table, width=max(out_console.width, 132))
    if out is not None:
        out.write_text(json.dumps(to_json(rows, cfg), indent=2, default=str))
        out_console.print(f"wrote {out}", highlight=False)
    if markdown is not None:
        markdown.write_text(to_markdown(rows))
        out_console.print(f"wrote {markdown}", highlight=False)


scores_app = typer.Typer(no_args_is_help=True, help="List or recompute scores.")
app.add_typer(scores_app, name="scores")


@scores_app.command("list")
@_errors
def scores_list() -> None:
    """List every registered score with its direction and definition."""
    from curator.scores import SCORES

    table = Table()
    for col in ("score", "higher is", "definition"):
        table.add_column(col)
    for e in SCORES:
        table.add_row(e.name, e.meta["higher_is"], e.meta["description"])
    out_console.print(table)


@scores_app.command("recompute")
@_errors
def scores_recompute(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    only: Annotated[str | None, typer.Option(help="Comma-separated scores (default: all).")
                    ] = None,
    el2n_epoch: Annotated[int | None, typer.Option(help="Epoch (1-based) of el2n.")] = None,
    easy_epochs: Annotated[int | None, typer.Option(help="Epochs counted by easiness.")
                           ] = None,
) -> None:
    """Rebuild scores from the stored trajectories, without retraining."""
    from curator.scores import rescore

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    scores = rescore(file, names, options={"el2n_epoch": el2n_epoch,
                                           "easy_epochs": easy_epochs})
    runs = next(iter(scores.values())).runs if scores else ()
    out_console.print(f"recomputed {len(scores)} scores of [bold]{file}[/] from "
                      f"{len(runs)} runs: {', '.join(scores)}", highlight=False)


@scores_app.command("depth")
@_errors
def scores_depth(
    file: Annotated[Path, typer.Argument(help="A scores file with its checkpoints.")],
    k: Annotated[int, typer.Option("--k", help="Neighbours of each k-NN probe.")] = 30,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N")] = "auto",
    root: Annotated[str | None, typer.Option(help="Directory of torchvision data.")] = None,
) -> None:
    """Compute prediction depth from the final models of a finished file."""
    from curator.reference import add_prediction_depth

    result = add_prediction_depth(file, k=k, device=device, root=root)
    out_console.print(f"prediction depth of [bold]{file}[/] from {len(result.runs)} runs: "
                      f"mean {result.values.mean():.3f}, max {result.values.max():.3f} "
                      f"(of {len(result.params['probes'])} probes)", highlight=False)


@app.command()
@_errors
def inspect(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    bins: Annotated[int, typer.Option(help="Histogram bins.")] = 20,
) -> None:
    """Show a file's runs, epochs, accuracies, scores and a histogram of learnability.

    Example:
      curator inspect scores.h5
    """
    import numpy as np

    from curator.store import open_scores

    if bins < 1:
        raise CuratorError(f"--bins must be >= 1, but got {bins}")
    with open_scores(file) as f:
        data = f.data_spec
        noisy = f.noisy
        out_console.print(
            f"[bold]{file}[/]  format {f.version} (curator {f.curator_version})\n"
            f"data {data['data']!r}: {f.num_samples} training samples"
            + (f" of shape {tuple(data['sample_shape'])}" if data.get("sample_shape") else
               " (shape not recorded)")
            + f", {f.num_classes} classes, fingerprint {f.fingerprint}"
            + (f"\nlabel noise {data['label_noise']} (seed {data['noise_seed']}"
               + (f", {data['noise_kind']}" if data.get("noise_kind") else "")
               + (", test labels flipped too" if data.get("noise_test") else "")
               + f"): {int(noisy.sum())} labels flipped" if noisy is not None else ""),
            highlight=False)
        from rich import box

        runs = Table(title="runs (accuracy at the last epoch: train, test)",
                     title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("run", "model", "seed", "probe", "epochs", "train", "test",
                    "time"):  # nothing wraps: run names are never cut at 80 columns
            runs.add_column(col, justify="right" if col not in ("run", "model", "probe")
                            else "left", no_wrap=True)
        for r in f.runs():
            runs.add_row(r.name, r.model, str(r.seed), r.probe,
                         f"{r.epochs_done}/{r.epochs or '?'}"
                         + ("" if r.complete else " open"), _pct(r.final_train_acc),
                         _pct(r.final_test_acc), f"{r.wall_time_s:.1f} s")
        out_console.print(runs)
        names = f.score_names()
        if not names:
            out_console.print("no scores yet (they are written when the runs are complete)")
            return
        table = Table(title="scores", title_justify="left")
        for col in ("score", "higher is", "min", "median", "max", "runs"):
            table.add_column(col, justify="left" if col in ("score", "higher is") else "right")
        for name in names:
            s = f.score(name)
            v = s.values.astype(np.float64)
            table.add_row(name, s.higher_is, _num(v.min()), _num(np.median(v)), _num(v.max()),
                          str(len(s.runs)))
        out_console.print(table)
        if "cartography_region" in names:
            region = f.score("cartography_region")
            counts = np.bincount(region.values.astype(np.int64),
                                 minlength=len(region.params["labels"]))
            out_console.print("cartography: " + ", ".join(
                f"{label} {c}" for label, c in zip(region.params["labels"], counts,
                                                   strict=True)), highlight=False)
        if "learnability" in names:
            out_console.print(histogram(f.score("learnability").values, bins=bins,
                                        title="learnability"), highlight=False)


@app.command()
@_errors
def report(
    file: Annotated[Path, typer.Argument(help="Scores file.")],
    out: Annotated[Path, typer.Option(help="Directory for the PNGs and index.html.")
                   ] = Path("report"),
    compare: Annotated[list[Path] | None, typer.Option(
        "--compare", help="Another scores file of the same data (repeatable).")] = None,
    bench: Annotated[Path | None, typer.Option(
        help="Results of `curator bench --out FILE.json`.")] = None,
    score: Annotated[str, typer.Option(help="The score of the histograms.")
                     ] = "learnability",
) -> None:
    """Draw the scores as PNG figures and one self-contained index.html.

    Example:
      curator report scores.h5 --compare cnn.h5 --bench results.json --out report
    """
    from curator.report import make_report

    check_output_dir(out / "index.html" if out.is_dir() else out)
    result = make_report(file, out, compare=compare or [], bench=bench, score=score,
                         log=lambda m: err_console.print(f"[dim]{m}[/]", highlight=False))
    out_console.print(f"wrote {len(result.panels)} figures and {out / 'index.html'}",
                      highlight=False)
    for line in result.skipped:
        out_console.print(f"  not drawn: {line}", highlight=False)


@app.command()
@_errors
def compare(
    files: Annotated[list[Path], typer.Argument(help="Two or more scores files of one data set.")],
    score: Annotated[str, typer.Option(help="The score to compare.")] = "learnability",
    fraction: Annotated[float, typer.Option(
        help="Share of easiest / hardest samples for the overlaps.")] = 0.1,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")
                        ] = False,
) -> None:
    """Correlate a score across files (seed 001's Table 1) and overlap the extremes.

    Example:
      curator compare mlp.h5 cnn.h5 --score learnability
    """
    import json

    from curator.compare import compare_files

    c = compare_files(files, score=score, fraction=fraction)
    if json_out:
        print(json.dumps(c.to_dict(), indent=2))
        return
    names = [f"{label} ({Path(f).name})" for label, f in zip(c.labels, c.files, strict=True)]

    def matrix(title: str, cell) -> Table:  # noqa: ANN001
        table = Table(title=title, title_justify="left")
        table.add_column("")
        for name in names:
            table.add_column(name, justify="right")
        for i, name in enumerate(names):
            table.add_row(name, *("-" if j <= i else cell(i, j) for j in range(len(names))))
        return table

    out_console.print(matrix(f"{score}: Pearson r of the values (and of their ranks, in "
                             "brackets)",
                             lambda i, j: f"{c.pearson[i, j]:.3f} ({c.rank_pearson[i, j]:.3f})"))
    pct = f"{100 * c.fraction:g}%"
    out_console.print(matrix(f"Jaccard overlap of the easiest {pct} / hardest {pct}",
                             lambda i, j: f"{c.jaccard_easiest[i, j]:.3f} / "
                                          f"{c.jaccard_hardest[i, j]:.3f}"))


@app.command()
@_errors
def prune(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    keep: Annotated[str | None, typer.Option(
        help="A fraction in (0, 1] or a count of samples to keep.")] = None,
    by: Annotated[str, typer.Option(help="The score to prune by.")] = "learnability",
    strategy: Annotated[str, typer.Option(
        help="drop-flagged | stratified | easy | hard | random | drop-noisy")
                  ] = "drop-flagged",
    class_balanced: Annotated[bool, typer.Option(
        "--class-balanced", help="Keep each class's share of the data.")] = False,
    name: Annotated[str | None, typer.Option(
        help="Name of the stored selection [default: STRATEGY-SCORE-KEEP].")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the kept indices "
                                             "(.npy, .txt or .csv).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of random choices.")] = 0,
    drop_hardest: Annotated[str, typer.Option(
        help="stratified: 'auto' drops the samples `curator flag` flags as mislabelled "
             "first; a fraction in [0, 1) drops that share of the hardest instead.")] = "auto",
    strata: Annotated[int, typer.Option(help="stratified: score bins.")] = 50,
    threshold: Annotated[float | None, typer.Option(
        help="drop-noisy: keep samples whose score is at least this easy, instead of the "
             "unflagged ones.")] = None,
    force: Annotated[bool, typer.Option(help="Replace a selection of the same name.")
                     ] = False,
) -> None:
    """Choose which training samples to keep and store the choice in the file.

    The default drops the samples flagged as mislabelled, then, while more must go, the
    suspected ones (the evidence points to a wrong label, not enough to flag), most likely
    first, then keeps a random subset of the rest (never more than the unflagged). Example:
    curator prune scores.h5 --keep 0.7
    """
    import numpy as np

    from curator.flagging import uncounted_lines
    from curator.pruning import PruneOptions, check_options
    from curator.pruning import prune as run_prune

    if out is not None:
        check_output_dir(out)
    try:
        beta = None if drop_hardest == "auto" else float(drop_hardest)
    except ValueError:
        raise CuratorError(f"--drop-hardest must be a fraction in [0, 1) or 'auto', but "
                           f"got {drop_hardest!r}") from None
    check_options(strategy, {name for name, given in (
        ("drop_hardest", beta is not None), ("threshold", threshold is not None),
        ("strata", strata != PruneOptions.strata)) if given})
    r = run_prune(file, keep=keep, by=by, strategy=strategy, class_balanced=class_balanced,
                  name=name, force=force, out=out,
                  opts=PruneOptions(seed=seed, drop_hardest=beta, strata=strata,
                                    threshold=threshold))
    sel, kept = r.selection, r.kept
    out_console.print(f"kept [bold]{kept.sum()}[/] of {len(kept)} samples "
                      f"({100 * kept.mean():.1f}%) with {strategy} by {by}"
                      + (", class-balanced" if class_balanced else "")
                      + f"; stored as selection [bold]{sel.name!r}[/] in {file}",
                      highlight=False)
    if r.fit is not None:
        out_console.print(f"{r.flagged} samples flagged as mislabelled (`curator flag`): "
                          "none of them kept", highlight=False)
        for line in uncounted_lines(r.fit, r.labels, r.fit.flagged, "the flagged it drops",
                                    "prune", r.classes):
            out_console.print(line, highlight=False)
        suspects = sel.params.get("suspected_dropped")
        if suspects:
            out_console.print(f"then {suspects} suspected of a wrong label dropped, most "
                              "likely first (docs/pruning.md)", highlight=False)
        asked = sel.params.get("asked")
        if asked is not None and asked > len(sel.indices):
            out_console.print(f"[bold]note:[/] --keep asked for {asked}, but only "
                              f"{len(sel.indices)} samples are not flagged; keeping flagged "
                              "samples to reach the count costs accuracy (docs/pruning.md). "
                              "For exactly that count, pass --strategy stratified "
                              "--drop-hardest 0 (or a fraction), or --strategy random",
                              highlight=False)
    out_console.print(_per_class(r.labels, r.classes, kept, "kept", "share kept"))
    ranges = Table(title=f"{by} ({r.score.higher_is} is higher)", title_justify="left")
    for col in ("", "min", "median", "max"):
        ranges.add_column(col, justify="right")
    for label, mask in (("kept", kept), ("dropped", ~kept)):
        v = r.score.values[mask].astype(np.float64)
        ranges.add_row(label, *((_num(v.min()), _num(np.median(v)), _num(v.max())) if len(v)
                                else ("-", "-", "-")))
    out_console.print(ranges)
    if r.noisy is not None:
        flipped, removed = int(r.noisy.sum()), int(r.noisy[~kept].sum())
        out_console.print(f"flipped labels: {flipped - removed} of {flipped} kept, {removed} "
                          f"removed ({_pct(removed / max(1, flipped))} of them)",
                          highlight=False)
    if r.out is not None:
        out_console.print(f"wrote {r.out}", highlight=False)


@app.command()
@_errors
def flag(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    by: Annotated[str, typer.Option(
        help="The default estimate early_aum+early_learnability (the margin before "
             "memorising within each class, and the probability of the label over all "
             "samples), or one score, fitted over all samples: a probability of the label "
             "(early_learnability, learnability, heldout_learnability, ...), aum or "
             "early_aum.")] = "early_aum+early_learnability",
    out: Annotated[Path | None, typer.Option(
        help="Also write them: .csv one row per flagged, then suspected sample (index, "
             "flagged, given and suggested label, probability the label is wrong, confidence "
             "of the suggestion, class names); .npy or .txt the flagged indices.")] = None,
    answers: Annotated[Path | None, typer.Option(
        help="A corrections file of a person's answers (curator review): each contested "
             "class is counted from the answers to its random sample, every answered sample "
             "is flagged as answered, and the estimate is stored with them.")] = None,
) -> None:
    """Flag the samples whose label is probably wrong, and store each sample's probability
    of a wrong label as the score mislabel_probability, with a suggested label where the
    training history supports one.

    Flagging nothing is a normal result on clean data. Example: curator flag scores.h5
    --out flagged.csv
    """
    from curator.flagging import flag as run_flag
    from curator.flagging import flag_lines
    from curator.flags import FLAG_AT

    if out is not None:
        check_output_dir(out)
    r = run_flag(file, by=by, out=out, answers=answers)
    fit, flagged = r.fit, r.fit.flagged
    n = len(flagged)
    for line in flag_lines(fit, r.classes, r.labels):
        out_console.print(line, highlight=False)
    if r.window is not None:
        out_console.print(r.window.line(), highlight=False)
    out_console.print(f"flagged [bold]{int(flagged.sum())}[/] of {n} samples "
                      f"({_pct(flagged.mean() if n else 0.0)}) with probability >= {FLAG_AT}"
                      f" of a wrong label; expected wrong labels {fit.estimated_share * n:.0f}"
                      + (f"; stored as score 'mislabel_probability' in {file}" if r.stored
                         else f"; read from the score 'mislabel_probability' that {file} "
                              "stores (no new fit)"), highlight=False)
    if not flagged.any() and r.test_acc is not None:
        out_console.print(f"nothing flagged is only as good as the model: the reference runs "
                          f"reached a test accuracy of {_num(r.test_acc)} at best, and a model "
                          "that learns the data better can tell wrong labels from hard "
                          "samples where this one cannot (score with it; its selection "
                          "trains any model: docs/flags.md)", highlight=False)
    suspects = int(fit.suspected.sum())
    if suspects:
        out_console.print(f"{suspects} more suspected (the evidence points to a wrong label, "
                          f"the probability below {FLAG_AT}): the default `curator prune` "
                          "drops them next, most likely first", highlight=False)
    if r.suggested is not None and r.confidence is not None and flagged.any():
        from curator.flags import RELABEL_AT, relabel_plan

        has = flagged & (r.suggested >= 0)
        sure, _ = relabel_plan(flagged, r.suggested, r.confidence)
        out_console.print(f"suggested labels: {int(has.sum())} of the flagged have one, "
                          f"{int(sure.sum())} with confidence >= {RELABEL_AT} (what `curator "
                          "relabel` relabels; it drops the other flagged)", highlight=False)
        top = r.table(r.listed[:min(10, int(flagged.sum()))])  # the flagged come first
        rows = Table(title="most likely wrong", title_justify="left")
        for col in ("index", "given", "suggested", "p(wrong)", "confidence"):
            rows.add_column(col, justify="right")
        for i, g, sug, p, c in zip(top["index"], top["given_name"], top["suggested_name"],
                                   top["mislabel_probability"], top["suggestion_confidence"],
                                   strict=True):
            rows.add_row(str(i), g, sug or "-", f"{p:.2f}", f"{c:.2f}" if sug else "-")
        out_console.print(rows)
    elif r.suggested is None and flagged.any():
        out_console.print("no suggested labels: the runs of this file do not record the "
                          "rival class (format 0.1.0; score again with this curator)",
                          highlight=False)
    out_console.print(_per_class(r.labels, r.classes, flagged, "flagged", "share"))
    q = r.quality
    if q is not None:
        out_console.print(f"against the {q.flipped} flipped labels the file records: "
                          f"precision {_num(q.precision) if q.flagged else '-'}, recall "
                          f"{_num(q.recall)}, F1 {_num(q.f1)}", highlight=False)
    if r.out is not None:
        out_console.print(f"wrote {r.out}", highlight=False)


@app.command()
@_errors
def review(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    out: Annotated[Path, typer.Option(
        help="The corrections file every answer is written to at once (.csv); started again, "
             "the review goes on from it.")] = Path("corrections.csv"),
    host: Annotated[str, typer.Option(
        help="Listen on this address: 127.0.0.1 (only this machine) unless you mean it.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port (0: any free one).")] = 8765,
    open_browser: Annotated[bool, typer.Option(
        "--open", help="Open the page in the default browser.")] = False,
    texts: Annotated[str | None, typer.Option(
        help="Show each sample as its text, from a .txt file (a sample a line), a .jsonl or "
             ".csv file or a save_to_disk folder (column 'text', or FILE,column=NAME): for "
             "text recorded through curator.hf.")] = None,
) -> None:
    """Look at the flagged and suspected samples in a browser, most likely wrong first, and
    answer each by key or mouse: take the suggested label, keep the given one, choose
    another class, drop it, skip, undo.

    Each answer is written at once to the corrections file that curator train --corrections
    and curator.with_corrections read. To relabel, answer in the page's queue "the flags to
    relabel" (what curator relabel would drop first), then curator relabel FILE --answers
    answers.csv --out all.csv for the rest. Stop with Ctrl-C. Example: curator review
    scores.h5 --out corrections.csv --open
    """
    from curator.review import Review, serve

    check_output_dir(out)
    review = Review.open(file, out, texts=texts)
    try:
        server = serve(review, host=host, port=port)
        done = len(review.answers.rows)
        out_console.print(f"reviewing {len(review.queue)} samples of {file} "
                          f"({int(review.flagged.sum())} flagged, then the suspected); "
                          + (f"{done} answered already in {out}" if done
                             else f"answers go to {out}"), highlight=False)
        if not len(review.queue):
            out_console.print("nothing is flagged or suspected in this file: the page shows "
                              "the hardest samples (lowest learnability) to browse",
                              highlight=False)
        if review.texts is not None:
            out_console.print(f"each sample shown as its text, from {texts}", highlight=False)
        elif review.samples is None:
            out_console.print("the data it was scored on could not be loaded: the page shows "
                              "labels and probabilities, no images (text: pass --texts)",
                              highlight=False)
        out_console.print(f"open {server.url}  (Ctrl-C to stop)", highlight=False)
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        out_console.print(f"{len(review.answers.rows)} answers in {out}; train on them with "
                          f"curator train --scores {file} --corrections {out}",
                          highlight=False)
    finally:
        review.answers.close()


@app.command()
@_errors
def relabel(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    out: Annotated[Path, typer.Option(help="The corrections file to write (.csv).")
                   ] = Path("corrections.csv"),
    at: Annotated[float | None, typer.Option(
        help="Relabel a flagged sample when its suggestion's confidence is at least this "
             "[default: 0.5, curator.flags.RELABEL_AT]; drop the other flagged.",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing corrections file.")
                     ] = False,
    answers: Annotated[Path | None, typer.Option(
        help="A corrections file of a person's answers (curator review): written as they "
             "are, the flags deciding only the samples it does not answer.")] = None,
) -> None:
    """Write corrections from the flags: each flagged sample relabelled to its suggested
    label where the suggestion is confident, the other flagged dropped, everything else kept.

    Train on them with curator train --scores FILE --corrections corrections.csv, or in your
    own loop with curator.with_corrections(dataset, "corrections.csv"). Example: curator
    relabel scores.h5 --out corrections.csv
    """
    import numpy as np

    from curator.flagging import relabel as run_relabel
    from curator.flagging import uncounted_lines
    from curator.flags import RELABEL_AT

    at = RELABEL_AT if at is None else at
    check_output_dir(out)
    if out.exists() and not force:
        raise CuratorError(f"{str(out)!r} exists (a person's review may be in it)",
                           hint="pass --force to replace it, or --out another file")
    if answers is not None and answers.resolve() == out.resolve():
        raise CuratorError(f"--answers and --out are the same file {str(out)!r}",
                           hint="write the corrections to another file: the answers are "
                                "copied into it")
    made, r = run_relabel(file, out, at=at, answers=answers)
    n = len(r.labels)
    relabelled, dropped = len(made.relabelled), len(made.dropped)
    what = (f"of the {relabelled + dropped} flagged" if answers is None else
            f"({r.fit.flagged.sum()} flagged; the answers of {answers} as they are)")
    out_console.print(f"relabelled [bold]{relabelled}[/], dropped [bold]{dropped}[/] {what}; "
                      f"kept the other {n - relabelled - dropped} of {n} as they are; wrote "
                      f"{out}", highlight=False)
    if r.noisy is not None and r.original is not None and relabelled:
        right = int((made.label[made.action == "relabel"]
                     == r.original[made.relabelled]).sum())
        out_console.print(f"against the original labels the file records: {right} of the "
                          f"{relabelled} relabelled get it back "
                          f"({_pct(right / relabelled)})", highlight=False)
    changed = np.zeros(n, dtype=bool)
    changed[made.index[made.action != "keep"]] = True
    for line in uncounted_lines(r.fit, r.labels, changed, "these corrections",
                                "`curator relabel FILE --answers answers.csv`", r.classes):
        out_console.print(line, highlight=False)
    if (relabelled or dropped) and answers is None:  # a wrong relabel costs more than a
        # dropped sample, and the dropped are the ambiguous flips relabelling gains most by
        # (docs/review.md)
        out_console.print(
            "a person's answers help most where this plan drops a sample or is least sure: "
            f"curator review {file} --out answers.csv (show: the flags to relabel), answer "
            f"as many as you can, then curator relabel {file} --answers answers.csv --out "
            "another.csv (docs/review.md, \"Answers for relabelling\")", highlight=False)


@app.command()
@_errors
def export(
    file: Annotated[Path, typer.Argument(help="A scores file.")],
    format: Annotated[str, typer.Option("--format", help="csv | npy")] = "csv",
    scores: Annotated[str | None, typer.Option(help="Comma-separated scores (default: all).")
                      ] = None,
    out: Annotated[Path | None, typer.Option(help="Output path (default: FILE.csv/.npy).")
                   ] = None,
) -> None:
    """Write the scores, one row per training sample, for pandas, cleanlab or notebooks.

    Example:
      curator export scores.h5 --format csv --out scores.csv
    """
    from curator.export import export_scores

    names = [n.strip() for n in scores.split(",") if n.strip()] if scores else None
    path = export_scores(file, fmt=format, scores=names, out=out)
    out_console.print(f"wrote [bold]{path}[/]", highlight=False)


def _per_class(labels: np.ndarray, classes: list[str], mask: np.ndarray, count: str,
               share: str) -> Table:
    """Samples per class, how many of them ``mask`` marks, and the share."""
    table = Table(title="per class", title_justify="left")
    for col in ("class", "samples", count, share):
        table.add_column(col, justify="left" if col == "class" else "right")
    for c, label in enumerate(classes):
        members = labels == c
        table.add_row(label, str(members.sum()), str(mask[members].sum()),
                      _pct(mask[members].mean() if members.any() else float("nan")))
    return table


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return f"{x:.4g}"


def histogram(values: np.ndarray, *, bins: int = 20, width: int = 40,
              title: str = "") -> str:
    """A terminal histogram: one line per bin with its range, a bar and the count."""
    import numpy as np
    values = np.asarray(values, dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        hi = lo + 1e-12
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    top = max(int(counts.max()), 1)
    lines = [f"{title} histogram (N = {len(values)})"] if title else []
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        bar = "█" * int(round(width * c / top))
        lines.append(f"  {a:7.4f} – {b:7.4f} │{bar:<{width}}│ {c}")
    return "\n".join(lines)


def _flowing(paragraph: str) -> str:
    """A docstring's paragraph as one line, unless its lines after the first are indented
    (a list of examples, one a line)."""
    lines = paragraph.split("\n")
    if any(line.startswith(" ") for line in lines[1:]):
        return paragraph
    return " ".join(paragraph.split())


def _flowing_help(typer_app: typer.Typer) -> None:
    """Each command's help from its docstring with every paragraph one line (:func:`_flowing`):
    Typer's help keeps the single line breaks of the paragraphs after the first, which the
    terminal then wraps again (a word alone on a line every other line)."""
    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = "\n\n".join(_flowing(paragraph) for paragraph in
                                    cleandoc(info.callback.__doc__).split("\n\n"))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _flowing_help(group.typer_instance)


_flowing_help(app)


def main() -> None:
    """Console-script entry point.

    A rank that torchrun started leaves without the interpreter's finalisation once the
    command is done (its files closed, the process group destroyed): torch's gloo backend,
    after training, aborts there now and then ("terminate called without an active
    exception", SIGABRT; 1 of 15 two-rank `curator score` runs on a CPU), and torchrun then
    reports a finished command as failed."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        app()
        return
    try:
        app()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # a message: what sys.exit would print
            print(exc.code, file=sys.stderr)
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
