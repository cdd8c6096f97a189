"""The NLU tokenizer: normalised tokens, original offsets, no blank tokens (rasa #7910)."""

import pytest
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer

from bot.rasa_ext.tokenizer import tokenize_text
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module", autouse=True)
def userdict():
    JiebaTokenizer._load_custom_dictionary(str(PROJECT_ROOT / "bot/service_data/lexicon"))


def words(text):
    return [t.text for t in tokenize_text(text)]


def test_mixed_chinese_english_has_no_whitespace_tokens():
    text = "我们的 IPO 要找谁辅导 , 还有 HR 外包 !"
    toks = tokenize_text(text)
    assert toks, "expected tokens"
    assert all(t.text.strip() and t.text == t.text.strip() for t in toks)
    assert "ipo" in [t.text for t in toks] and "hr" in [t.text for t in toks]
    assert "," not in [t.text for t in toks] and "!" not in [t.text for t in toks]


def test_offsets_index_the_original_text():
    text = "高新技術企業 認定 ＩＰＯ😀"
    for tok in tokenize_text(text):
        original = text[tok.start : tok.end]
        assert len(original) == len(tok.text)


@pytest.mark.parametrize("term", ["高新技术企业", "科技型中小企业", "加计扣除", "专精特新", "秦创原", "知识产权质押"])
def test_domain_terms_stay_whole(term):
    assert term in words(f"请问{term}怎么办理")


def test_traditional_input_gives_simplified_domain_terms():
    assert "高新技术企业" in words("高新技術企業認定")


def test_empty_input_gives_no_tokens():
    assert tokenize_text("") == []
    assert tokenize_text("  😀 ") == []


def test_stock_jieba_would_emit_whitespace_tokens():
    """Why the custom tokenizer exists: plain jieba yields ' ' tokens on mixed text."""
    import jieba

    stock = [w for w, _s, _e in jieba.tokenize("我们的 IPO 要找谁")]
    assert " " in stock
    assert " " not in words("我们的 IPO 要找谁")
