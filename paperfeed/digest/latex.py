"""LaTeX in titles and abstracts turned into readable plain text for email (no MathML there)."""

from __future__ import annotations

import re

# Email clients drop MathML and scripts, so math becomes Unicode: \alpha -> α, x^2 -> x², etc.
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "leq": "≤", "le": "≤", "geq": "≥",
    "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "~", "simeq": "≃", "equiv": "≡",
    "propto": "∝", "infty": "∞", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏",
    "int": "∫", "sqrt": "√", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆",
    "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "Rightarrow": "⇒", "leftrightarrow": "↔", "mapsto": "↦", "ell": "ℓ",
    "hbar": "ħ", "circ": "∘", "ldots": "…", "cdots": "⋯", "dots": "…", "langle": "⟨",
    "rangle": "⟩", "log": "log", "exp": "exp", "sin": "sin", "cos": "cos", "max": "max",
    "min": "min", "lim": "lim", "mathbb{R}": "ℝ", "mathbb{N}": "ℕ", "mathbb{Z}": "ℤ",
    "mathbb{C}": "ℂ", "mathbb{E}": "𝔼", "%": "%", "&": "&", "#": "#", "_": "_", "$": "$",
    "{": "{", "}": "}", ",": " ", ";": " ", "quad": " ", "qquad": "  ", "!": "",
}  # fmt: skip
_SUP = str.maketrans("0123456789+-=()nijkT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱʲᵏᵀ")
_SUB = str.maketrans("0123456789+-=()aeijkmnoprstx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₘₙₒₚᵣₛₜₓ")
_SUP_OK = set("0123456789+-=()nijkT")
_SUB_OK = set("0123456789+-=()aeijkmnoprstx")

# Commands whose braced argument is kept as plain text.
_KEEP_ARG = re.compile(
    r"\\(?:text|textbf|textit|texttt|textrm|emph|mathrm|mathbf|mathit|mathcal|mathsf|"
    r"mathtt|operatorname|boldsymbol|bm|hat|tilde|bar|vec|overline|underline|widetilde|"
    r"widehat|mbox)\s*\{([^{}]*)\}"
)
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_SCRIPT = re.compile(r"([\^_])(\{([^{}]*)\}|\\?[A-Za-z0-9+\-])")
_COMMAND = re.compile(r"\\(mathbb\{[A-Z]\}|[A-Za-z]+|[%&#_${},;!])")
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<!\\)\$(.+?)(?<!\\)\$", re.DOTALL)


def _script(m: re.Match[str]) -> str:
    kind, body = m.group(1), m.group(3) if m.group(3) is not None else m.group(2)
    allowed, table = (_SUP_OK, _SUP) if kind == "^" else (_SUB_OK, _SUB)
    if body and all(c in allowed for c in body):
        return body.translate(table)
    return f"{kind}({body})" if len(body) > 1 else f"{kind}{body}"


def _group(text: str) -> str:
    text = text.strip()
    return text if re.fullmatch(r"[\w.√]+", text) else f"({text})"


def _math(body: str) -> str:
    for _ in range(3):  # nested \frac{\sqrt{x}}{2}: a few passes unwrap typical titles
        body = _KEEP_ARG.sub(r"\1", body)
        body = _SQRT.sub(lambda m: "√" + _group(m.group(1)), body)
        body = _FRAC.sub(lambda m: f"{_group(m.group(1))}/{_group(m.group(2))}", body)
    body = _COMMAND.sub(lambda m: _SYMBOLS.get(m.group(1), m.group(1)), body)
    body = _SCRIPT.sub(_script, body)
    body = body.replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", body).strip()


def latex_to_text(text: str | None) -> str:
    """Text with inline and display math replaced by a readable Unicode approximation."""
    if not text:
        return ""
    out = _MATH.sub(lambda m: _math(next(g for g in m.groups() if g is not None)), text)
    out = _KEEP_ARG.sub(r"\1", out)  # \emph{...} outside math
    out = out.replace("\\$", "$").replace("\\%", "%").replace("\\&", "&").replace("~", " ")
    out = out.replace("``", "“").replace("''", "”").replace("---", "—").replace("--", "–")
    return re.sub(r"\s+", " ", out).strip()


def one_line(text: str | None, limit: int = 200) -> str:
    """Text on one line (no CR/LF: safe for a header) cut at a word boundary to `limit` chars."""
    flat = re.sub(r"[\s\x00-\x1f\x7f]+", " ", text or "").strip()
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def shorten(text: str, limit: int = 300) -> str:
    """A plain-text excerpt ending at a word boundary, with an ellipsis when cut."""
    return one_line(text, limit)
