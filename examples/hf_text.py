"""A text classifier fine-tuned with Hugging Face's ``Trainer`` and recorded by curator.

Nothing is downloaded: the texts are generated (each of four topics has its own words, mixed
with words every topic uses), the tokenizer is trained on them, and the model is a small BERT
built from a config. 15% of the training labels are flipped, so ``curator flag`` has
something to find.

    pip install transformers datasets
    python examples/hf_text.py --out text.h5 && curator flag text.h5
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TOPICS = {
    "sport": "goal match team score league coach player win stadium ball",
    "food": "bread soup salt oven recipe dinner cheese sauce spoon taste",
    "music": "song guitar chord band drum melody concert album singer tune",
    "weather": "rain cloud wind storm snow sunny forecast thunder cold humid",
}
FILLER = ["the", "a", "of", "and", "to", "in", "was", "it", "that", "with", "for", "on", "is",
          "at", "by", "this", "from", "they", "we", "said", "today", "very", "some", "more"]


PAIRS = np.array([2, 3, 0, 1])  # sport <-> music, food <-> weather: the pairs noise's partners


def make_texts(n: int, seed: int, words: tuple[int, int] = (3, 5),
               others: tuple[int, int] = (0, 0)) -> tuple[list[str], np.ndarray]:
    """``n`` sentences of 12 words: ``words[0]`` to ``words[1]`` of a topic's words and
    ``others[0]`` to ``others[1]`` words of one other topic (drawn per sentence) among filler;
    the topic's index is the label. Fewer topic words make a harder task, other topics' words
    an ambiguous one (a sentence with more of them than of its own topic's is mostly
    misread: the task has an irreducible error, as real text does)."""
    rng = np.random.default_rng(seed)
    vocab = [v.split() for v in TOPICS.values()]
    labels = rng.integers(0, len(vocab), n)
    texts = []
    for y in labels:
        k = int(rng.integers(words[0], words[1] + 1))
        sentence = list(rng.choice(vocab[y], k))
        if others[1] > 0:  # (no draw otherwise: the example's texts stay as they were)
            j = int(rng.integers(others[0], others[1] + 1))
            other = (y + int(rng.integers(1, len(vocab)))) % len(vocab)
            sentence += list(rng.choice(vocab[other], j))
            k += j
        sentence += list(rng.choice(FILLER, 12 - k))
        rng.shuffle(sentence)
        texts.append(" ".join(sentence))
    return texts, labels


def run(out: Path, **kwargs: object) -> Path:
    """Fine-tune and record (:func:`fit`); returns the scores file."""
    return fit(out, **kwargs)[0]  # type: ignore[arg-type]


@dataclass
class TextTask:
    """What :func:`prepare` makes: the tokenised training set (with the index column) and
    test set, the untrained model, the labels (``noisy_y`` as given for training,
    ``train_y`` before the flips, ``noisy`` where they differ) and the metric."""

    train: Any
    test: Any
    model: Any
    noisy_y: np.ndarray
    train_y: np.ndarray
    noisy: np.ndarray
    accuracy: Callable[[Any], dict[str, float]]


def prepare(*, n_train: int = 1200, n_test: int = 400, noise: float = 0.15, seed: int = 0,
            dropout: float = 0.1, noise_kind: str = "symmetric",
            words: tuple[int, int] = (3, 5), others: tuple[int, int] = (0, 0)) -> TextTask:
    """Generate the texts (:func:`make_texts`), flip ``noise`` of the training labels as
    ``noise_kind`` does (``symmetric``, or ``pairs`` / ``asymmetric`` with :data:`PAIRS` as the
    partners), train the tokenizer and build the model (``dropout``: BERT's hidden and
    attention dropout)."""
    import datasets
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from curator.hf import with_index
    from curator.noise import flip_labels

    texts, labels = make_texts(n_train + n_test, seed, words, others)
    train_y = labels[:n_train]
    noisy_y, noisy = flip_labels(train_y, noise, len(TOPICS), seed, kind=noise_kind,
                                 partner=None if noise_kind == "symmetric" else PAIRS)
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]")

    def encode(batch: dict) -> dict:
        return tokenizer(batch["text"], truncation=True, max_length=16, padding="max_length")

    train = datasets.Dataset.from_dict({"text": texts[:n_train], "label": noisy_y.tolist()})
    test = datasets.Dataset.from_dict({"text": texts[n_train:],
                                       "label": labels[n_train:].tolist()})
    train = with_index(train.map(encode, batched=True))
    test = test.map(encode, batched=True)
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=32,
        num_labels=len(TOPICS), hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout)
    model = transformers.BertForSequenceClassification(config)

    def accuracy(pred: transformers.EvalPrediction) -> dict[str, float]:
        return {"accuracy": float((np.argmax(pred.predictions, -1) == pred.label_ids).mean())}

    return TextTask(train, test, model, noisy_y, train_y, noisy, accuracy)


def arguments(out_dir: Path, *, epochs: int, seed: int, save: bool = False) -> Any:
    """The ``TrainingArguments`` of the example: batch 32, an evaluation at each epoch's end
    (curator's test accuracy), a checkpoint there when ``save``, on the CPU."""
    import transformers

    return transformers.TrainingArguments(
        output_dir=str(out_dir), num_train_epochs=epochs,
        per_device_train_batch_size=32, per_device_eval_batch_size=128, learning_rate=2e-3,
        eval_strategy="epoch", save_strategy="epoch" if save else "no",
        logging_strategy="no", report_to=[],
        seed=seed, use_cpu=True, disable_tqdm=True)


def fit(out: Path, *, epochs: int = 4, seed: int = 0, work: Path | None = None,
        resume: str | bool | None = None, save: bool = False, record: bool = True,
        first_epoch_checks: int = 0, **task_options: Any) -> tuple[Path, float]:
    """Fine-tune and record; returns the scores file and the seconds ``trainer.train`` took
    (the Trainer's own ``train_runtime``). ``resume``: the Trainer's
    ``resume_from_checkpoint``; ``save``: a checkpoint at each epoch's end; ``record``: False
    trains the plain ``Trainer`` (the overhead benchmark's baseline); ``first_epoch_checks``:
    CuratorTrainer's; ``task_options`` go to :func:`prepare` (``n_train``, ``noise``,
    ``noise_kind``, ``words``...)."""
    import transformers

    from curator.hf import CuratorTrainer

    task = prepare(seed=seed, **task_options)
    args = arguments(work or out.parent / "hf-run", epochs=epochs, seed=seed, save=save)
    if not record:
        done = transformers.Trainer(model=task.model, args=args, train_dataset=task.train,
                                    eval_dataset=task.test,
                                    compute_metrics=task.accuracy).train()
        return out, float(done.metrics["train_runtime"])
    trainer = CuratorTrainer(
        model=task.model, args=args, train_dataset=task.train, eval_dataset=task.test,
        compute_metrics=task.accuracy, curator_path=out, labels=task.noisy_y,
        first_epoch_checks=first_epoch_checks,
        recorder_kwargs={"classes": list(TOPICS), "noisy": task.noisy,
                         "original_labels": task.train_y, "data": "hf_text",
                         "model": "bert-tiny", "force": not resume})
    done = trainer.train(resume_from_checkpoint=resume)
    return out, float(done.metrics["train_runtime"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("text.h5"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--save-texts", type=Path,
                        help="also write the training texts, one a line (curator review "
                             "--texts)")
    args = parser.parse_args()
    print(f"wrote {run(args.out, epochs=args.epochs)}")
    if args.save_texts:
        texts = prepare().train["text"]  # the same generated texts, in index order
        args.save_texts.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        print(f"wrote {args.save_texts}: review with curator review {args.out} --texts "
              f"{args.save_texts}")


if __name__ == "__main__":
    main()
