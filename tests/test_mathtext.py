"""LaTeX-to-MathML rendering: math becomes MathML, every other character is escaped."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from paperfeed.web.mathtext import (
    math_to_mathml,
    render,
    render_excerpt,
    render_highlighted,
    render_paragraphs,
    split_math,
)

MATHML_TAGS = (
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder "
    "munderover mtable mtr mtd mlabeledtr mstyle mpadded mphantom menclose merror "
    "mmultiscripts mprescripts none semantics annotation"
).split()
ALLOWED_TAGS = set(MATHML_TAGS) | {"span", "code", "p", "mark"}
TAG_RE = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9:-]*)([^>]*)>")


def assert_safe(html: str) -> None:
    """Only allow-listed tags, no event handlers, links or styles, no raw < outside tags."""
    for name, attrs in TAG_RE.findall(html):
        assert name in ALLOWED_TAGS, (name, html)
        attrs = re.sub(r'"[^"]*"', '""', attrs)  # quoted values are escaped text
        assert not re.search(r"\b(on\w+|href|src|style)\s*=", attrs, re.I), html
    stripped = TAG_RE.sub("", html)
    assert "<" not in stripped and ">" not in stripped, html


def test_real_astrophysics_formula() -> None:
    out = render(r"black holes of $10^9\,M_\odot$ in quasars")
    assert isinstance(out, Markup)
    assert out.startswith('black holes of <span class="math"')
    assert "<msup><mn>10</mn><mn>9</mn></msup>" in out
    assert "<msub><mi>M</mi><mo>⊙</mo></msub>" in out
    assert out.endswith("</math></span> in quasars")


def test_delimiters() -> None:
    assert 'display="block"' in render(r"$$E=mc^2$$")
    assert 'display="block"' in render(r"\[E=mc^2\]")
    assert 'display="inline"' in render(r"\(a<b\)")
    assert [p.kind for p in split_math(r"a $x$ b \(y\) c $$z$$")] == [
        "text",
        "inline",
        "text",
        "inline",
        "text",
        "display",
    ]


def test_plain_text_is_escaped() -> None:
    out = render('<script>alert("x")</script> & <img src=x onerror=alert(1)>')
    assert str(out) == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
    )


def test_closing_math_tag_inside_math_stays_inside() -> None:
    out = str(render(r"$x</math><script>alert(2)</script>$ tail"))
    assert "<script>" not in out
    assert out.count("<math") == 1 and out.count("</math>") == 1
    assert out.endswith("</math></span> tail")
    assert_safe(out)


def test_text_command_cannot_inject_markup() -> None:
    out = str(render(r"$\text{<b onmouseover=alert(1)>hi</b>}$"))
    assert "<b" not in out and "&lt;b onmouseover=alert(1)&gt;hi&lt;/b&gt;" in out
    assert_safe(out)


def test_href_and_unknown_attributes_are_dropped() -> None:
    out = str(render(r"$\href{javascript:alert(1)}{x}$"))
    assert "javascript" not in out.split('title="')[0]  # only in the escaped source tooltip
    assert "href" not in re.sub(r'title="[^"]*"', "", out)
    assert_safe(out)


def test_unbalanced_and_literal_dollars_stay_text() -> None:
    assert str(render("it costs $5 and more")) == "it costs $5 and more"
    assert str(render(r"a literal \$ sign")) == "a literal $ sign"
    assert str(render(r"~20\% of R\&D, item \#3, snake\_case")) == (
        "~20% of R&amp;D, item #3, snake_case"
    )
    assert str(render("$")) == "$"
    assert str(render("$$")) == "$$"


def test_unconvertible_math_shows_escaped_source() -> None:
    out = str(render(r"see $\frac{$ <i>here"))
    assert out == 'see <code class="tex">$\\frac{$</code> &lt;i&gt;here'
    assert math_to_mathml(r"\frac{") is None
    assert math_to_mathml("x" * 5000) is None


def test_paragraphs_and_excerpt() -> None:
    out = str(render_paragraphs("one $x$\n\n two <b>"))
    assert out.startswith("<p>one <span") and out.endswith("<p>two &lt;b&gt;</p>")
    long = "word " * 100 + r"$\alpha$ end"
    excerpt = str(render_excerpt(long, limit=60))
    assert excerpt.endswith("…") and "<math" not in excerpt and len(excerpt) < 70
    cut_math = "short text " + r"$\alpha + \beta + \gamma$" + " more" * 40
    assert "$" not in str(render_excerpt(cut_math, limit=20))  # never half a formula


def test_empty_inputs() -> None:
    assert render(None) == Markup("") and render("") == Markup("")
    assert render_paragraphs(None) == Markup("") and render_excerpt("") == Markup("")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("ab$\\{}^_<>&\"'/ ()[]\n") + ["<script>", "</math>", r"\text"]),
        max_size=40,
    ).map("".join)
)
def test_any_input_renders_safely(text: str) -> None:
    assert_safe(str(render_highlighted(text)))
    assert_safe(str(render(text)))
    assert_safe(str(render_paragraphs(text)))
    assert_safe(str(render_excerpt(text, limit=20)))


def test_search_snippets_keep_highlights_and_render_math() -> None:
    # What Tantivy hands back: escaped text with <mark> around matched words.
    snippet = (
        "a <mark>transformer</mark> with $\\mathcal{O}(n)$ cost &amp; "
        "$<mark>attention</mark>^2$ and a cut $\\frac{1}{"
    )
    out = str(render_highlighted(snippet))
    assert "<mark>transformer</mark>" in out and "&amp;" in out
    assert out.count('<span class="math"') == 2 and "<math" in out  # both formulas rendered
    assert "attention" in out and "<mark>attention" not in out  # no highlight splits a formula
    assert "$\\frac{1}{" in out  # half a formula stays text
    assert_safe(out)


def test_search_snippets_stay_escaped() -> None:
    out = str(render_highlighted("&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark></mark>"))
    assert "<script" not in out and "&lt;script&gt;" in out
    assert out.count("<mark>") == out.count("</mark>") == 1  # stray tags are dropped
    assert str(render_highlighted("unclosed <mark>term")).endswith("term</mark>")
