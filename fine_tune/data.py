"""Training data: Alpaca rows and ShareGPT conversations → messages → rendered segments → masked token ids.

Three separate steps: `*_messages` maps one record to `(role, content, masked)` messages (validating it),
`render_segments` lays the messages out in a prompt format (Alpaca or Vicuna v1.1, the same strings as
`harness.eval.templates`), and `tokenize_segments` tokenizes the rendered text once and masks it from character
offsets into `input_ids` + `labels` (-100 where masked).
`load_data` reads the files as they are published (JSON list, single object or JSONL; a file or a directory).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError
from harness.eval.templates import ALPACA_PREAMBLE, ALPACA_PREAMBLE_INPUT, VICUNA_SYSTEM

log = logging.getLogger(__name__)
Role = Literal["system", "user", "assistant"]
IGNORE_INDEX = -100
SHAREGPT_ROLES: dict[str, Role] = {
    "human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "bard": "assistant",
    "bing": "assistant", "assistant": "assistant", "system": "system",
}


@dataclass(frozen=True)
class Message:
    """One turn; `masked` turns are context only (no loss on their tokens)."""

    role: Role
    content: str
    masked: bool


@dataclass(frozen=True)
class Example:
    """One training example and where it came from (`file:record`)."""

    messages: tuple[Message, ...]
    source: str


@dataclass(frozen=True)
class TrainingData:
    """Everything read from `--data`: the examples plus the identity and size the model card records."""

    examples: list[Example]
    files: list[str]
    sha256: str
    n_bytes: int
    n_records: int
    n_skipped: int


class RecordError(ValueError):
    """A malformed record: which field, and what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r} {problem}")
        self.field = field


def _text(row: dict[str, Any], key: str, required: bool = True, nonempty: bool = False) -> str:
    if key not in row:
        if required:
            raise RecordError(key, "is missing")
        return ""
    value = row[key]
    if not isinstance(value, str):
        raise RecordError(key, f"must be a string, got {type(value).__name__}")
    if nonempty and not value.strip():
        raise RecordError(key, "is empty")
    return value


def alpaca_messages(row: Any) -> list[Message]:
    """An Alpaca row {instruction, input, output} → system preamble, user turn, assistant reply.

    With an input, the user content carries the `### Input:` block and the preamble is the with-input one,
    so the rendered prompt is exactly stanford_alpaca's `prompt_input`.
    """
    if not isinstance(row, dict):
        raise RecordError("instruction", f"record must be an object, got {type(row).__name__}")
    # An empty output is kept (the real alpaca_data.json has some): the model learns to stop at once.
    instruction, output = _text(row, "instruction", nonempty=True), _text(row, "output")
    extra = _text(row, "input", required=False)
    if not extra.strip():  # as stanford_alpaca: only an empty input means none ("<no input>" rows keep theirs)
        return [Message("system", ALPACA_PREAMBLE, True), Message("user", instruction, True),
                Message("assistant", output, False)]
    return [Message("system", ALPACA_PREAMBLE_INPUT, True),
            Message("user", f"{instruction}\n\n### Input:\n{extra}", True), Message("assistant", output, False)]


def sharegpt_messages(row: Any) -> list[Message]:
    """A ShareGPT record {conversations: [{from, value}, ...]} → alternating user/assistant messages.

    As FastChat does, a conversation that opens with the assistant drops that first turn; the loss covers
    assistant turns only.
    """
    if not isinstance(row, dict):
        raise RecordError("conversations", f"record must be an object, got {type(row).__name__}")
    turns = row.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RecordError("conversations", "must be a non-empty list of {from, value} turns")
    messages: list[Message] = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordError(f"conversations[{i}]", "must be an object with 'from' and 'value'")
        role = SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            raise RecordError(f"conversations[{i}].from", f"is {turn.get('from')!r}, expected human or gpt")
        value = turn.get("value")
        if not isinstance(value, str):
            raise RecordError(f"conversations[{i}].value", "must be a string")
        if role == "system":
            if i != 0:
                raise RecordError(f"conversations[{i}].from", "system turn is allowed only first")
        elif not [m for m in messages if m.role != "system"] and role == "assistant":
            continue  # FastChat skips a leading gpt turn
        else:
            expected = "user" if not messages or messages[-1].role != "user" else "assistant"
            if role != expected:
                raise RecordError(f"conversations[{i}].from", f"breaks the human/gpt alternation (expected {expected})")
        messages.append(Message(role, value, role != "assistant"))
    if not any(m.role == "assistant" for m in messages):
        raise RecordError("conversations", "has no gpt turn to learn from")
    return messages


RECORD_PARSERS: dict[str, Callable[[Any], list[Message]]] = {"alpaca": alpaca_messages, "sharegpt": sharegpt_messages}


@dataclass(frozen=True)
class PromptFormat:
    """How messages become text: a format string per role; `{content}` is the message text."""

    default_system: str
    system: str
    user: str
    assistant_prefix: str  # masked text that opens the reply (the generation prompt's tail)
    reply: str  # trained text of the reply; the eos token follows it
    between_turns: str  # masked text after a reply's eos when another turn follows


PROMPT_FORMATS: dict[str, PromptFormat] = {
    "alpaca": PromptFormat(ALPACA_PREAMBLE, "{content}\n\n", "### Instruction:\n{content}\n\n### Response:\n",
                           "", "{content}", "\n\n"),
    # FastChat vicuna_v1.1: "SYSTEM USER: q ASSISTANT: a</s>USER: ..."; the space after "ASSISTANT:" starts the reply.
    "vicuna": PromptFormat(VICUNA_SYSTEM, "{content} ", "USER: {content} ", "ASSISTANT:", " {content}", ""),
}


@dataclass(frozen=True)
class Segment:
    """A run of text that is either all context (masked) or all reply (trained, then eos)."""

    text: str
    trained: bool


def render_segments(messages: Sequence[Message], fmt: PromptFormat) -> list[Segment]:
    """Lay messages out in `fmt`; consecutive masked text is merged so it tokenizes as one string."""
    body = list(messages)
    system = body.pop(0).content if body and body[0].role == "system" else fmt.default_system
    segments: list[Segment] = []
    pending = fmt.system.format(content=system)
    for i, message in enumerate(body):
        if message.role == "user":
            pending += fmt.user.format(content=message.content)
            continue
        pending += fmt.assistant_prefix
        if message.masked:
            pending += fmt.reply.format(content=message.content)
            continue
        segments.append(Segment(pending, False))
        segments.append(Segment(fmt.reply.format(content=message.content), True))
        pending = fmt.between_turns if i < len(body) - 1 else ""
    if pending:
        segments.append(Segment(pending, False))
    return segments


def render_text(segments: Sequence[Segment], eos_token: str) -> str:
    """The full training text (eos written out after each reply), for comparison with the chat template."""
    return "".join(s.text + (eos_token if s.trained else "") for s in segments)


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids and labels of one example (-100 on context tokens), and whether truncation cut it."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool


@dataclass(frozen=True)
class PreparedData:
    """Tokenized examples as columns, plus the counts the card records."""

    rows: dict[str, list[list[int]]]
    n_truncated: int
    n_tokens: int
    n_trained_tokens: int


def adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer's own encoding starts with bos (LLaMA tokenizers and the tiny one do)."""
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a").input_ids[:1] == [bos]


def _is_trained(span: tuple[int, int], ranges: Sequence[tuple[int, int]]) -> bool:
    """A token is trained when any of its characters lies in a reply (or its eos)."""
    start, end = span
    return end > start and any(start < stop and begin < end for begin, stop in ranges)


def tokenize_segments(segments: Sequence[Segment], tokenizer: Any, max_length: int,
                      train_on_inputs: bool = False) -> TokenizedExample:
    """Render the example once, tokenize it once, and mask it from character offsets.

    The eos token is written out after each reply, as the chat template writes it, so the ids are exactly the
    whole rendered string's ids (`tokenizer(render_text(...)).input_ids`): segment-by-segment tokenization
    differs from that on SentencePiece-style tokenizers ("▁" prefix rules) and on merges across boundaries.
    A token is trained when any of its characters belongs to a reply or its eos; with `train_on_inputs`
    (alpaca-lora's option) every token is trained.

    Raises:
        HarnessError: a tokenizer without offsets (a slow tokenizer), or whose eos text is not its eos id.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise HarnessError(f"tokenizer {type(tokenizer).__name__} gives no character offsets",
                           hint="use a fast tokenizer (tokenizer.json; AutoTokenizer's default)")
    eos = tokenizer.eos_token
    if tokenizer(eos, add_special_tokens=False).input_ids != [tokenizer.eos_token_id]:
        raise HarnessError(f"the tokenizer does not read its eos text {eos!r} as its eos token",
                           hint="register it: tokenizer.add_special_tokens({'eos_token': ...})")
    text, ranges = "", []
    for segment in segments:
        start = len(text)
        text += segment.text + (eos if segment.trained else "")
        if segment.trained:
            ranges.append((start, len(text)))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, spans = list(encoded.input_ids), [tuple(span) for span in encoded.offset_mapping]
    if adds_bos(tokenizer):
        ids, spans = [tokenizer.bos_token_id, *ids], [(0, 0), *spans]
    labels = [i if train_on_inputs or _is_trained(span, ranges) else IGNORE_INDEX for i, span in zip(ids, spans)]
    truncated = len(ids) > max_length
    return TokenizedExample(ids[:max_length], labels[:max_length], truncated)


def read_records(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise HarnessError(f"{path}: line {number} is not valid JSON ({exc.msg})",
                                       hint="fix the line; JSONL needs one object per line") from exc
        return records
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})",
                           hint="pass a JSON list of records, one object, or a .jsonl file") from exc
    return value if isinstance(value, list) else [value]


def data_files(path: Path) -> list[Path]:
    """The data files behind `--data`: the file itself, or a directory's *.json and *.jsonl (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())
        if files:
            return files
        raise HarnessError(f"no .json or .jsonl files in {path}", hint="pass a data file or a folder of them")
    raise HarnessError(f"no training data at {path}", hint="pass a JSON/JSONL file or a folder of them")


def data_sha256(path: str | Path) -> str:
    """The digest `load_data` records for `path` (its files' bytes in order): what a model card names."""
    digest = hashlib.sha256()
    for file in data_files(Path(path)):
        digest.update(file.read_bytes())
    return "sha256:" + digest.hexdigest()


def load_data(path: str | Path, data_format: str, skip_bad: bool = False) -> TrainingData:
    """Read and validate every record of `path` as `data_format` (alpaca | sharegpt).

    Raises:
        HarnessError: a malformed record (naming file, record index and field) unless `skip_bad`, which
            skips and counts it; unreadable files; no usable record at all.
    """
    parse = RECORD_PARSERS[data_format]
    files = data_files(Path(path))
    digest, n_bytes, examples, n_records, skipped = hashlib.sha256(), 0, [], 0, 0
    for file in files:
        raw = file.read_bytes()
        digest.update(raw)
        n_bytes += len(raw)
        for index, record in enumerate(read_records(file)):
            n_records += 1
            try:
                examples.append(Example(tuple(parse(record)), f"{file.name}:{index}"))
            except RecordError as exc:
                if not skip_bad:
                    raise HarnessError(f"{file}: record {index}: {exc} ({data_format} format)",
                                       hint="fix the record, or pass --skip-bad to skip malformed records") from None
                skipped += 1
                log.debug("skipped %s record %d: %s", file, index, exc)
    if skipped:
        log.warning("skipped %d malformed record(s) of %d in %s", skipped, n_records, path)
    if not examples:
        raise HarnessError(f"no usable {data_format} records in {path}", hint="check --data and the recipe's format")
    return TrainingData(examples, [str(f) for f in files], "sha256:" + digest.hexdigest(), n_bytes, n_records, skipped)
