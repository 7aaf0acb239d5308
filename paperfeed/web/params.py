"""Integer path parameters bounded to what a 64-bit database column holds (form fields: parse_row_id)."""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, IntegerConvertor, register_url_convertor

from paperfeed.normalize import ROW_ID_DIGITS


class RowIdConvertor(IntegerConvertor):
    """Starlette's {name:int}, matching only 1 to 18 digits so a path id never overflows BIGINT."""

    regex = f"[0-9]{{1,{ROW_ID_DIGITS}}}"


def install() -> None:
    """Make {name:int} in every route compiled from now on a bounded row id (19+ digits: 404)."""
    if not isinstance(CONVERTOR_TYPES["int"], RowIdConvertor):
        register_url_convertor("int", RowIdConvertor())
