"""Addresses as people type them: any valid address is taken (all lower-case, as the API and
block explorers often print them, or all upper-case), mixed case only with a correct EIP-55
checksum (a wrong one is a typo); every answer is EIP-55."""

from __future__ import annotations

from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address


def parse_address(value: str) -> str:
    """`value` in EIP-55 form; ValueError (saying why) if it is no address or a mistyped one."""
    if not isinstance(value, str) or not value.startswith("0x") or not is_hex_address(value):
        raise ValueError(f"{value!r} is not an address (0x and 40 hexadecimal digits)")
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and not is_checksum_address(value):
        raise ValueError(
            f"{value} has mixed case but a wrong EIP-55 checksum: a typo? "
            f"(write it all lower-case to skip the check)"
        )
    return to_checksum_address(value)
