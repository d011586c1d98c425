"""Write a module's README block exactly as `terraform-docs markdown table` does.

    python tools/terraform_docs.py --write README.md                 # rewrite in place
    python tools/terraform_docs.py --check README.md                 # exit 1 when stale
    python tools/terraform_docs.py --write modules/functions/README.md --module modules/functions

The block sits between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` and follows the
tool's default settings (markdown table, anchors, escaping, sort by name, no lock file read
since none is committed): Requirements, Providers, Modules, Resources, Inputs and Outputs,
with its column headers, `<pre>`/`<br/>` rendering of multi-line types and defaults, its
underscore and pipe escaping, and its ordering. A contributor who runs the real
terraform-docs therefore gets the same text. Types are the source text of each `type`
expression, as terraform-docs reads them; defaults are JSON with two-space indentation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REGISTRY = "https://registry.terraform.io/providers"
URL = re.compile(r"(?:https?|wss?)://\S+")


# ---------------------------------------------------------------------------------------
# Reading the module
# ---------------------------------------------------------------------------------------


_HEREDOC = re.compile(r'"<<(-?)([A-Za-z_]+)\n(.*?)\n[ \t]*\2"', re.DOTALL)


def _heredoc(match: re.Match[str]) -> str:
    """A heredoc's text as HCL means it: `<<-` strips the lines' common indentation; the
    text ends with a newline, as in Terraform."""
    body = match.group(3)
    return (textwrap.dedent(body) if match.group(1) else body) + "\n"


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes and escapes (and a heredoc's markers); return the value
    HCL means."""
    if isinstance(value, str):
        heredoc = _HEREDOC.fullmatch(value)
        if heredoc:
            return _heredoc(heredoc)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            decoded: str = json.loads(value)
            return decoded
        return value
    if isinstance(value, dict):
        return {
            _unquote(k): _unquote(v)
            for k, v in value.items()
            if k not in ("__is_block__", "__comments__", "__inline_comments__")
        }
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _matching(text: str, start: int) -> int:
    """Index just past the bracket that closes the one at `start` (strings skipped)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char == '"':
            index += 1
            while text[index] != '"':
                index += 2 if text[index] == "\\" else 1
        elif char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return index + 1
        index += 1
    raise ValueError("unbalanced brackets")


def _blocks(text: str, kind: str) -> list[tuple[str, str, int]]:
    """(label(s), body, line) of every top-level `kind` block of one file."""
    found: list[tuple[str, str, int]] = []
    for match in re.finditer(rf'^{kind}((?:\s+"[^"]*")+)\s*\{{', text, flags=re.MULTILINE):
        end = _matching(text, match.end() - 1)
        labels = " ".join(re.findall(r'"([^"]*)"', match.group(1)))
        found.append((labels, text[match.end() : end - 1], text.count("\n", 0, match.start())))
    return found


def _type_source(body: str) -> str | None:
    """The source text of a block's `type = …` attribute, as terraform-docs shows it."""
    match = re.search(r"^\s*type\s*=\s*", body, flags=re.MULTILINE)
    if not match:
        return None
    start = match.end()
    word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", body[start:])
    end = start + (word.end() if word else 0)
    if end < len(body) and body[end] == "(":
        end = _matching(body, end)
    return body[start:end]


@dataclass(frozen=True)
class Input:
    name: str
    description: str
    type: str
    default: Any
    required: bool


@dataclass(frozen=True)
class Module:
    core: list[str]
    providers: dict[str, tuple[str, list[str]]]  # name -> (source, version constraints)
    calls: list[tuple[str, str, str]]  # name, source, version
    resources: list[tuple[str, str, str, str]]  # mode, provider, type, name
    inputs: list[Input]
    outputs: list[tuple[str, str]]


def load(module: Path) -> Module:
    core: list[str] = []
    providers: dict[str, tuple[str, list[str]]] = {}
    calls: list[tuple[str, str, str]] = []
    resources: list[tuple[str, str, str, str]] = []
    inputs: list[Input] = []
    outputs: list[tuple[str, str]] = []
    for path in sorted(module.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        with path.open(encoding="utf-8") as handle:
            parsed: dict[str, Any] = hcl2.load(handle)
        for block in parsed.get("terraform", []):
            if "required_version" in block:
                core.append(_unquote(block["required_version"]))
            for required in block.get("required_providers", []):
                for name, spec in _unquote(required).items():
                    versions = [spec["version"]] if "version" in spec else []
                    providers[name] = (spec.get("source", f"hashicorp/{name}"), versions)
        for labels, body, _ in _blocks(text, "module"):
            source = _unquote(re.search(r'^\s*source\s*=\s*("[^"]*")', body, re.M).group(1))  # type: ignore[union-attr]
            version_match = re.search(r'^\s*version\s*=\s*("[^"]*")', body, re.M)
            version = _unquote(version_match.group(1)) if version_match else ""
            if not version and "?ref=" in source:
                source, version = source.rsplit("?ref=", 1)
            calls.append((labels, source, version))
        for mode, kind in (("managed", "resource"), ("data", "data")):
            for labels, body, _ in _blocks(text, kind):
                rtype, name = labels.split(" ")
                provider_match = re.search(r"^\s*provider\s*=\s*([a-z0-9_-]+)", body, re.M)
                provider = provider_match.group(1) if provider_match else rtype.split("_", 1)[0]
                resources.append((mode, provider, rtype, name))
        variables = {
            name.strip('"'): body
            for block in parsed.get("variable", [])
            for name, body in block.items()
        }
        for labels, body, _ in _blocks(text, "variable"):
            spec = variables[labels]
            required = "default" not in spec
            inputs.append(
                Input(
                    name=labels,
                    description=_unquote(spec.get("description", '""')),
                    type=_type_source(body) or "any",
                    default=None if required else _unquote(spec["default"]),
                    required=required,
                )
            )
        for block in parsed.get("output", []):
            for name, body in block.items():
                outputs.append((name.strip('"'), _unquote(body.get("description", '""'))))
    return Module(core, providers, calls, resources, inputs, outputs)


# ---------------------------------------------------------------------------------------
# Rendering (format/templates/markdown_table_*.tmpl and template/sanitizer.go)
# ---------------------------------------------------------------------------------------


def _name(text: str) -> str:
    return text.replace("_", "\\_")


def _anchor(prefix: str, name: str) -> str:
    return f'<a name="{prefix}_{name}"></a> [{_name(name)}](#{_name(f"{prefix}_{name}")})'


def _segments(text: str, fence: str) -> list[tuple[str, bool]]:
    """processSegments: (segment, is code) pieces split at `fence`, empty ones dropped."""
    in_code = text.startswith(fence)
    pieces: list[tuple[str, bool]] = []
    for segment in text.split(fence):
        if not segment:
            continue
        pieces.append((segment, in_code))
        in_code = not in_code
    return pieces


def _escape_underscores(line: str) -> str:
    keep = "\0"
    patterns = [
        (r"^(\s*)(_+)(\s+)(.*)", [2]),
        (r"(\s+)(_+)([^\t\n\f\r _])(.*)([^\t\n\f\r _])(_+)(\s+)", [6, 2]),
    ]
    for pattern, groups in patterns:
        for match in list(re.finditer(pattern, line)):
            for group in groups:
                start, end = match.span(group)
                line = line[:start] + match.group(group).replace("_", keep) + line[end:]
    return line.replace("_", "\\_").replace(keep, "_")


def _escape(text: str) -> str:
    piped = "".join(
        f"`{segment}`" if code else segment.replace("|", "\\|")
        for segment, code in _segments(text, "`")
    )
    return "".join(
        f"`{segment}`" if code else "\n".join(_escape_underscores(x) for x in segment.split("\n"))
        for segment, code in _segments(piped, "`")
    )


def _multiline(text: str) -> str:
    text = text.strip()
    text = re.sub(r"(\S*)(\r?\n)(\s*)(\w+)", r"\1  \2\3\4", text)
    text = text.replace("    \n", "  \n").replace("  \n\n", "\n\n").replace("\n  \n", "\n\n")
    return text.replace("  \n", "<br/>").replace("\n", "<br/>")


def _table_cell(text: str) -> str:
    """sanitizeMarkdownTbl with escaping and HTML on (terraform-docs' defaults)."""
    if text == "":
        return "n/a"
    out: list[str] = []
    for segment, code in _segments(text, "```"):
        if code:
            out.append(
                "<pre>" + segment.strip().replace("\n", "<br/>").replace("\r", "") + "</pre>"
            )
        else:
            piece = _multiline(_escape(segment))
            out.append(URL.sub(lambda match: match.group(0).replace("\\", ""), piece))
    return "".join(out)


def _code(text: str) -> str:
    return f"\n\n```\n{text}\n```\n" if "\n" in text else f"`{text}`"


def _default(item: Input) -> str:
    if item.required:
        return "n/a"
    return _table_cell(
        _code(json.dumps(item.default, indent=2, sort_keys=True, ensure_ascii=False))
    )


def _section(title: str, header: list[str], rule: str, rows: list[str], empty: str) -> str:
    if not rows:
        return f"## {title}\n\n{empty}"
    return "\n".join([f"## {title}", "", *header, rule, *rows])


def render(module: Module) -> str:
    requirements = [f"| {_anchor('requirement', 'terraform')} | {v} |" for v in module.core]
    for name in sorted(module.providers):
        for version in module.providers[name][1]:
            requirements.append(f"| {_anchor('requirement', name)} | {version} |")
    used = sorted({provider for _, provider, _, _ in module.resources})
    providers = []
    for name in used:
        version = " ".join(module.providers.get(name, ("", []))[1]) or "n/a"
        providers.append(f"| {_anchor('provider', name)} | {version} |")
    calls = [
        f"| {_anchor('module', name)} | {source} | {version or 'n/a'} |"
        for name, source, version in sorted(module.calls)
    ]
    resources: list[str] = []
    ordered = sorted(
        module.resources,
        key=lambda r: (0 if r[0] == "managed" else 1, f"{r[2]}.{r[3]}", r[3]),
    )
    for mode, provider, rtype, name in ordered:
        source, versions = module.providers.get(provider, (f"hashicorp/{provider}", []))
        short = rtype.removeprefix(f"{provider}_")
        kind = "resources" if mode == "managed" else "data-sources"
        version = _resource_version(versions)
        url = f"{REGISTRY}/{source}/{version}/docs/{kind}/{short}"
        label = "resource" if mode == "managed" else "data source"
        resources.append(f"| [{rtype}.{name}]({url}) | {label} |")
    inputs = [
        f"| {_anchor('input', item.name)} | {_table_cell(item.description)} | "
        f"{_table_cell(_code(item.type))} | {_default(item)} | {'yes' if item.required else 'no'} |"
        for item in sorted(module.inputs, key=lambda i: i.name)
    ]
    outputs = [
        f"| {_anchor('output', name)} | {_table_cell(description)} |"
        for name, description in sorted(module.outputs)
    ]
    sections = [
        _section(
            "Requirements",
            ["| Name | Version |"],
            "| ---- | ------- |",
            requirements,
            "No requirements.",
        ),
        _section(
            "Providers", ["| Name | Version |"], "| ---- | ------- |", providers, "No providers."
        ),
        _section(
            "Modules",
            ["| Name | Source | Version |"],
            "| ---- | ------ | ------- |",
            calls,
            "No modules.",
        ),
        _section("Resources", ["| Name | Type |"], "| ---- | ---- |", resources, "No resources."),
        _section(
            "Inputs",
            ["| Name | Description | Type | Default | Required |"],
            "| ---- | ----------- | ---- | ------- | :------: |",
            inputs,
            "No inputs.",
        ),
        _section(
            "Outputs", ["| Name | Description |"], "| ---- | ----------- |", outputs, "No outputs."
        ),
    ]
    return "\n\n".join(sections)


def _resource_version(constraints: list[str]) -> str:
    if not constraints:
        return "latest"
    parts = constraints[-1].split(" ")
    if len(parts) == 1:
        if not parts[0][:1].isdigit():
            return parts[0][1:] if parts[0][:1] == "=" else "latest"
        return parts[0]
    if len(parts) == 2 and parts[0] == "=":
        return parts[1]
    return "latest"


def replace_block(readme: str, content: str) -> str:
    """`readme` with the text between the markers replaced by `content`."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README needs the markers {BEGIN} and {END}")
    return readme[:start] + f"{BEGIN}\n{content}\n{END}" + readme[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="README", help="rewrite the block")
    mode.add_argument("--check", type=Path, metavar="README", help="fail when stale")
    parser.add_argument("--module", type=Path, default=ROOT, help="module folder")
    args = parser.parse_args(argv)
    readme_path: Path = args.write or args.check
    current = readme_path.read_text(encoding="utf-8")
    wanted = replace_block(current, render(load(args.module)))
    if args.write:
        readme_path.write_text(wanted, encoding="utf-8")
        return 0
    if wanted != current:
        print(f"{readme_path}: the terraform-docs block is stale; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
