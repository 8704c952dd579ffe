"""Record layouts of the text formats: DuckDB renders each row as one line of CSV, JSON or XML.

Rendering in SQL keeps a million rows out of Python loops; the writer only copies the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.generator.render import quote_identifier, quote_literal
from orchestrator.specs.model import SourceSpec

# The root of every generated XML file; readers iterate over the row elements whatever the root.
XML_ROOT_ELEMENT = "Trades"
XML_INDENT = "  "
NEWLINE_SQL = "chr(10)"
XML_ENCODING_NAMES = {"utf-8": "UTF-8", "latin-1": "ISO-8859-1"}


@dataclass(frozen=True)
class TextLayout:
    """What comes before the rows, the SQL for one row's line (newline included), and what comes after."""

    head: str
    line_sql: str
    tail: str


def _any_of(value_sql: str, characters: str) -> str:
    """SQL testing whether a value contains any of the characters; cheaper than escaping every value."""
    return " or ".join(f"contains({value_sql}, {quote_literal(character)})" for character in characters)


def _csv_field(name: str, delimiter: str) -> str:
    """SQL for one CSV field: empty for NULL, quoted only when the value needs it."""
    value = quote_identifier(name)
    needs_quotes = _any_of(value, delimiter + '"\n\r')
    quoted = f"""'"' || replace({value}, '"', '""') || '"'"""
    return f"case when {value} is null then '' when {needs_quotes} then {quoted} else {value} end"


def _csv_text(name: str, delimiter: str) -> str:
    if any(special in name for special in (delimiter, '"', "\n", "\r")):
        return '"' + name.replace('"', '""') + '"'
    return name


def csv_layout(spec: SourceSpec) -> TextLayout:
    """Delimited lines, a header row when the spec has one."""
    delimiter = spec.format.delimiter
    separator = f" || {quote_literal(delimiter)} || "
    line = separator.join(_csv_field(name, delimiter) for name in spec.column_names) + f" || {NEWLINE_SQL}"
    head = delimiter.join(_csv_text(name, delimiter) for name in spec.column_names) + "\n" if spec.format.header else ""
    return TextLayout(head=head, line_sql=line, tail="")


def jsonl_layout(spec: SourceSpec) -> TextLayout:
    """One JSON object per line; keys are column names, values strings or null (DuckDB escapes them)."""
    pairs = ", ".join(f"{quote_literal(name)}, {quote_identifier(name)}" for name in spec.column_names)
    return TextLayout(head="", line_sql=f"cast(json_object({pairs}) as varchar) || {NEWLINE_SQL}", tail="")


def _xml_value(column: str, *, attribute: bool) -> str:
    """SQL for a column's value as XML text or attribute content, escaped only when it needs to be."""
    value = quote_identifier(column)
    escaped = f"replace(replace(replace({value}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
    if attribute:
        escaped = f"replace({escaped}, '\"', '&quot;')"
    specials = '&<>"' if attribute else "&<>"
    return f"case when {_any_of(value, specials)} then {escaped} else {value} end"


@dataclass
class _XmlNode:
    """An element of the row template: its attributes, its own text column and its child elements."""

    name: str
    attributes: list[tuple[str, str]] = field(default_factory=list)
    text_column: str | None = None
    children: dict[str, _XmlNode] = field(default_factory=dict)

    def child(self, name: str) -> _XmlNode:
        return self.children.setdefault(name, _XmlNode(name))

    def sql(self) -> str:
        """SQL building this element; an element with only a text column is left out when that value is NULL."""
        if self.text_column and not self.attributes and not self.children:
            value = _xml_value(self.text_column, attribute=False)
            return f"coalesce('<{self.name}>' || {value} || '</{self.name}>', '')"
        attributes = "".join(
            f" || coalesce(' {attribute}=\"' || {_xml_value(column, attribute=True)} || '\"', '')"
            for attribute, column in self.attributes
        )
        text = f" || coalesce({_xml_value(self.text_column, attribute=False)}, '')" if self.text_column else ""
        children = "".join(f" || {child.sql()}" for child in self.children.values())
        return f"('<{self.name}'{attributes} || '>'{text}{children} || '</{self.name}>')"


def _xml_row_template(spec: SourceSpec) -> _XmlNode:
    """The row element with every column placed at its `xml_fields` path."""
    row = _XmlNode(spec.format.xml_row_element or "Row")
    for name in spec.column_names:
        path = spec.format.xml_fields.get(name, name)
        *elements, last = path.split("/")
        node = row
        for element in elements:
            node = node.child(element)
        if last.startswith("@"):
            node.attributes.append((last[1:], name))
        else:
            node.child(last).text_column = name
    return row


def xml_layout(spec: SourceSpec) -> TextLayout:
    """A root element holding one row element per line."""
    encoding = XML_ENCODING_NAMES.get(spec.format.encoding, spec.format.encoding.upper())
    return TextLayout(
        head=f'<?xml version="1.0" encoding="{encoding}"?>\n<{XML_ROOT_ELEMENT}>\n',
        line_sql=f"'{XML_INDENT}' || {_xml_row_template(spec).sql()} || {NEWLINE_SQL}",
        tail=f"</{XML_ROOT_ELEMENT}>\n",
    )


def text_layout(spec: SourceSpec) -> TextLayout:
    """The text layout of a CSV, JSONL or XML spec."""
    builders = {"csv": csv_layout, "jsonl": jsonl_layout, "xml": xml_layout}
    return builders[spec.format.type](spec)
