"""Command line for staff and developers (wrapped by make kb-validate / kb-search / kb-reload).

python -m bot.knowledge validate [dir]     # files (loader.py) and content (audit.py)
python -m bot.knowledge search "高企有什么优惠" [-k 5] [--dir DIR]
python -m bot.knowledge search "那高企呢" --after "科技型中小企业怎么评价"
python -m bot.knowledge reload [dir]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings

from .audit import audit
from .followup import KbContext
from .loader import load_base
from .model import KnowledgeError
from .retriever import FEATURES, Retriever
from .service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN, KnowledgeService, touch_reload

DECISIONS = {
    ANSWER: "直接回答",
    BEST_GUESS: "给出最可能的答案（注明是推测）并附备选",
    OPTIONS: "几条同样可能，请用户选择",
    UNKNOWN: "知识库里没有相关内容（登记需求或转人工）",
}
READINGS = {
    "standalone": "独立问题",
    "elliptical": "追问（沿用上一个话题）",
    "new_subject": "追问（换主题，沿用上一问的问法）",
}


def default_directory() -> Path:
    """KNOWLEDGE_DIR, else the repository's knowledge/ (Settings)."""
    return Settings.from_env().knowledge_dir


def _validate(directory: Path) -> int:
    try:
        kb = load_base(directory)
    except KnowledgeError as exc:
        print(exc)
        return 1
    content = audit(kb)
    if content.problems:
        print(f"内容检查未通过，共 {len(content.problems)} 个问题（见 knowledge/README.md 的内容检查清单）：")
        for problem in content.problems:
            print(f"  {problem}")
        return 1
    retriever = Retriever(kb)
    print(f"OK：{kb.summary()}（{directory}）")
    for warning in [*kb.warnings, *content.warnings]:
        print(f"提示：{warning}")
    for first, second, sentence in retriever.near_duplicates():
        print(f"提示：{first.id} 与 {second.id} 的问法几乎相同（“{sentence}”），检索难以区分，建议合并或改写")
    print(retriever.calibration.describe())
    return 0


def _search(directory: Path, question: str, k: int, after: str | None = None) -> int:
    try:
        service = KnowledgeService(directory, strict=True, background_reload=False)
    except KnowledgeError as exc:
        print(exc)
        return 1
    context = None
    if after:
        previous = service.ask(after)
        context = previous.context() or KbContext(question=after)
        print(f"上一问：{after} → {previous.decision} {previous.faq.id if previous.faq else '—'}")
    answer = service.ask(question, k=k, context=context)
    retriever = service.retriever
    assert retriever is not None  # strict=True: the base loaded or KnowledgeError was raised
    explained = retriever.explain(answer.resolved or question)
    print(f"问题：{question}")
    if answer.resolved and answer.resolved != question:
        print(f"按此检索：{answer.resolved}（{READINGS.get(answer.reading, answer.reading)}）")
    print(f"分词：{' / '.join(explained['tokens']) or '（无有效词）'}")
    line = f"判定：{answer.decision}（{DECISIONS[answer.decision]}）"
    if answer.expired and (entry := answer.entry) is not None:  # expired says there is a top hit
        line += f"  注意：{entry.title} 已于 {entry.expires} 失效"
    print(line)
    if answer.decision == OPTIONS:
        print("候选：" + "；".join(h.faq.question for h in answer.options))
    elif answer.alternatives:
        print("您可能还想问：" + "；".join(h.faq.question for h in answer.alternatives))
    if not answer.hits:
        print("（没有任何匹配的问答）")
        return 0
    header = ["#", "得分"] + list(FEATURES)
    print("  ".join(f"{h:>7}" for h in header) + "  问答 id / 问题")
    for rank, hit in enumerate(answer.hits, 1):
        cells = [f"{rank:>7}", f"{hit.score:>7.3f}"]
        cells += [f"{hit.components[name]:>7.2f}" for name in FEATURES]
        print("  ".join(cells) + f"  {hit.faq.id}  {hit.faq.question}")
    return 0


def _reload(directory: Path) -> int:
    try:
        kb = load_base(directory)
    except KnowledgeError as exc:
        print(exc)
        print("未通知重新加载：运行中的服务继续使用上一版本。")
        return 1
    content = audit(kb)
    if content.problems:
        print(f"内容检查未通过，共 {len(content.problems)} 个问题：")
        for problem in content.problems:
            print(f"  {problem}")
        print("未通知重新加载：运行中的服务继续使用上一版本。")
        return 1
    marker = touch_reload(directory)
    print(f"OK：{kb.summary()}")
    print(f"已通知运行中的服务重新加载（{marker}），下一条提问时生效。")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.knowledge", description="知识库工具")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="校验知识库文件")
    p.add_argument("dir", nargs="?", type=Path, default=None)
    p = sub.add_parser("search", help="用一个问题试检索")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="显示前 k 条（默认 5）")
    p.add_argument("--dir", type=Path, default=None)
    p.add_argument("--after", default=None, help="上一个问题（试追问）")
    p = sub.add_parser("reload", help="校验后通知运行中的服务重新加载")
    p.add_argument("dir", nargs="?", type=Path, default=None)
    args = parser.parse_args(argv)
    directory = args.dir or default_directory()
    if args.command == "validate":
        return _validate(directory)
    if args.command == "search":
        return _search(directory, args.question, max(1, args.k), args.after)
    return _reload(directory)


if __name__ == "__main__":
    sys.exit(main())
