"""Characters that can pass for a printable ASCII character, and how text holding them is
shown. The plan shows every name and every changed value by the rules here, so a look-alike
cannot pass unseen: :func:`quoted_name` (one name: its look-alikes amid ASCII text escaped,
``"D\\u0430ily news"``), :func:`distinct` (two sides of a change, or two names set side by side:
escaped where they would otherwise look the same) and :func:`look_alike` (two names that differ
only in characters that look alike). ``render.common`` shows field diffs with them, the kinds
and the planner the names their notes quote.

:data:`LOOKALIKES`: for each character that can pass for a printable ASCII one (a code point
outside ASCII), the ASCII character it looks like. Derived from Unicode's ``confusables.txt``
(Unicode Technical Standard #39, Unicode Security Mechanisms, version 13.0.0, 2020-02-13): every
line whose source is one code point outside ASCII and whose prototype is one printable ASCII
character. That is 1,526 characters standing for 82 ASCII ones: Cyrillic ``а`` and Greek ``α``
for ``a``, Cherokee ``Ꭰ`` for ``D``, dotless ``ı`` for ``i``, the fullwidth and mathematical
letters, digits of other scripts. Look-alikes of other non-ASCII characters (Greek for Cyrillic)
are not in it. The data is © Unicode, Inc., under the Unicode License
(https://www.unicode.org/license.txt).

Written here per ASCII character as the hexadecimal code points of its look-alikes (``a-b`` is
a range); rebuilt from a newer ``confusables.txt`` by keeping the lines described above.

Imports nothing of hoodsync but :mod:`hoodsync.terminal`, so every layer may use it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Mapping, Set
from typing import TypeVar

from hoodsync.terminal import BLANKS, json_safe

__all__ = [
    "LOOKALIKES",
    "skeleton",
    "collisions",
    "differ_to_the_eye",
    "look_alike",
    "revealed",
    "window",
    "distinct",
    "quoted_name",
]

_TABLE: dict[str, str] = {
    " ": "a0 1680 2000-200a 2028 2029 202f 205f",
    "!": "1c3 2d51 ff01",
    "&": "a778",
    "'": (
        "b4 2b9 2bb-2be 2c8 2ca 2cb 2f4 374 384 55a 55d 5d9 5f3 7f4 7f5 144a 16cc 1fbd 1fbf "
        "1fef 1ffd 1ffe 2018 2019 201b 2032 2035 a78c ff07 ff40 16f51 16f52"
    ),
    "(": "2768 2772 3014 fd3e ff3b",
    ")": "2769 2773 3015 fd3f ff3d",
    "*": "66d 204e 2217 1031f",
    "+": "16ed 2795 1029b",
    ",": "b8 60d 66b 201a a4f9",
    "-": "2d7 6d4 2010-2013 2043 2212 2796 2cba fe58",
    ".": "660 6f0 701 702 2024 a4f8 a60e 10a50 1d16d",
    "/": "1735 2041 2044 2215 2571 27cb 29f8 2cc6 2f03 3033 30ce 31d3 4e3f 1d23a",
    "2": "1a7 3e8 14bf a644 a6ef a75a 1d7d0 1d7da 1d7e4 1d7ee 1d7f8 1fbf2",
    "3": "1b7 21c 417 4e0 2ccc a76a a7ab 118ca 16f3b 1d206 1d7d1 1d7db 1d7e5 1d7ef 1d7f9 1fbf3",
    "4": "13ce 118af 1d7d2 1d7dc 1d7e6 1d7f0 1d7fa 1fbf4",
    "5": "1bc 118bb 1d7d3 1d7dd 1d7e7 1d7f1 1d7fb 1fbf5",
    "6": "431 13ee 2cd2 118d5 1d7d4 1d7de 1d7e8 1d7f2 1d7fc 1fbf6",
    "7": "104d2 118c6 1d212 1d7d5 1d7df 1d7e9 1d7f3 1d7fd 1fbf7",
    "8": "222 223 9ea a6a b03 1031a 1d7d6 1d7e0 1d7ea 1d7f4 1d7fe 1e8cb 1fbf8",
    "9": "9ed a67 b68 d6d 2cca a76e 118ac 118cc 118d6 1d7d7 1d7e1 1d7eb 1d7f5 1d7ff 1fbf9",
    ":": "2d0 2f8 589 5c3 703 704 903 a83 16ec 1803 1809 205a 2236 a4fd a789 fe30 ff1a",
    ";": "37e",
    "<": "2c2 1438 16b2 2039 276e 1d236",
    "=": "1400 2e40 30a0 a4ff",
    ">": "2c3 1433 203a 276f 16f3f 1d237",
    "?": "241 294 97d 13ae a6eb",
    "A": (
        "391 410 13aa 15c5 a4ee ff21 102a0 16f40 1d400 1d434 1d468 1d49c 1d4d0 1d504 1d538 "
        "1d56c 1d5a0 1d5d4 1d608 1d63c 1d670 1d6a8 1d6e2 1d71c 1d756 1d790"
    ),
    "B": (
        "392 412 13f4 15f7 212c a4d0 a7b4 ff22 10282 102a1 10301 1d401 1d435 1d469 1d4d1 "
        "1d505 1d539 1d56d 1d5a1 1d5d5 1d609 1d63d 1d671 1d6a9 1d6e3 1d71d 1d757 1d791"
    ),
    "C": (
        "3f9 421 13df 2102 212d 216d 2ca4 a4da ff23 102a2 10302 10415 1051c 118e9 118f2 1d402 "
        "1d436 1d46a 1d49e 1d4d2 1d56e 1d5a2 1d5d6 1d60a 1d63e 1d672 1f74c"
    ),
    "D": (
        "13a0 15de 15ea 2145 216e a4d3 1d403 1d437 1d46b 1d49f 1d4d3 1d507 1d53b 1d56f 1d5a3 "
        "1d5d7 1d60b 1d63f 1d673"
    ),
    "E": (
        "395 415 13ac 2130 22ff 2d39 a4f0 ff25 10286 118a6 118ae 1d404 1d438 1d46c 1d4d4 "
        "1d508 1d53c 1d570 1d5a4 1d5d8 1d60c 1d640 1d674 1d6ac 1d6e6 1d720 1d75a 1d794"
    ),
    "F": (
        "3dc 15b4 2131 a4dd a798 10287 102a5 10525 118a2 118c2 1d213 1d405 1d439 1d46d 1d4d5 "
        "1d509 1d53d 1d571 1d5a5 1d5d9 1d60d 1d641 1d675 1d7ca"
    ),
    "G": (
        "50c 13c0 13f3 a4d6 1d406 1d43a 1d46e 1d4a2 1d4d6 1d50a 1d53e 1d572 1d5a6 1d5da 1d60e "
        "1d642 1d676"
    ),
    "H": (
        "397 41d 13bb 157c 210b-210d 2c8e a4e7 ff28 102cf 1d407 1d43b 1d46f 1d4d7 1d573 1d5a7 "
        "1d5db 1d60f 1d643 1d677 1d6ae 1d6e8 1d722 1d75c 1d796"
    ),
    "J": (
        "37f 408 13ab 148d a4d9 a7b2 ff2a 1d409 1d43d 1d471 1d4a5 1d4d9 1d50d 1d541 1d575 "
        "1d5a9 1d5dd 1d611 1d645 1d679"
    ),
    "K": (
        "39a 41a 13e6 16d5 212a 2c94 a4d7 ff2b 10518 1d40a 1d43e 1d472 1d4a6 1d4da 1d50e "
        "1d542 1d576 1d5aa 1d5de 1d612 1d646 1d67a 1d6b1 1d6eb 1d725 1d75f 1d799"
    ),
    "L": (
        "13de 14aa 2112 216c 2cd0 a4e1 1041b 10526 118a3 118b2 16f16 1d22a 1d40b 1d43f 1d473 "
        "1d4db 1d50f 1d543 1d577 1d5ab 1d5df 1d613 1d647 1d67b"
    ),
    "M": (
        "39c 3fa 41c 13b7 15f0 16d6 2133 216f 2c98 a4df ff2d 102b0 10311 1d40c 1d440 1d474 "
        "1d4dc 1d510 1d544 1d578 1d5ac 1d5e0 1d614 1d648 1d67c 1d6b3 1d6ed 1d727 1d761 1d79b"
    ),
    "N": (
        "39d 2115 2c9a a4e0 ff2e 10513 1d40d 1d441 1d475 1d4a9 1d4dd 1d511 1d579 1d5ad 1d5e1 "
        "1d615 1d649 1d67d 1d6b4 1d6ee 1d728 1d762 1d79c"
    ),
    "O": (
        "39f 41e 555 7c0 9e6 b20 b66 12d0 2c9e 2d54 3007 a4f3 ff2f 10292 102ab 10404 104c2 "
        "10516 114d0 118b5 118e0 1d40e 1d442 1d476 1d4aa 1d4de 1d512 1d546 1d57a 1d5ae 1d5e2 "
        "1d616 1d64a 1d67e 1d6b6 1d6f0 1d72a 1d764 1d79e 1d7ce 1d7d8 1d7e2 1d7ec 1d7f6 1fbf0"
    ),
    "P": (
        "3a1 420 13e2 146d 2119 2ca2 a4d1 ff30 10295 1d40f 1d443 1d477 1d4ab 1d4df 1d513 "
        "1d57b 1d5af 1d5e3 1d617 1d64b 1d67f 1d6b8 1d6f2 1d72c 1d766 1d7a0"
    ),
    "Q": "211a 2d55 1d410 1d444 1d478 1d4ac 1d4e0 1d514 1d57c 1d5b0 1d5e4 1d618 1d64c 1d680",
    "R": (
        "1a6 13a1 13d2 1587 211b-211d a4e3 104b4 16f35 1d216 1d411 1d445 1d479 1d4e1 1d57d "
        "1d5b1 1d5e5 1d619 1d64d 1d681"
    ),
    "S": (
        "405 54f 13d5 13da a4e2 ff33 10296 10420 16f3a 1d412 1d446 1d47a 1d4ae 1d4e2 1d516 "
        "1d54a 1d57e 1d5b2 1d5e6 1d61a 1d64e 1d682"
    ),
    "T": (
        "3a4 422 13a2 22a4 27d9 2ca6 a4d4 ff34 10297 102b1 10315 118bc 16f0a 1d413 1d447 "
        "1d47b 1d4af 1d4e3 1d517 1d54b 1d57f 1d5b3 1d5e7 1d61b 1d64f 1d683 1d6bb 1d6f5 1d72f "
        "1d769 1d7a3 1f768"
    ),
    "U": (
        "54d 1200 144c 222a 22c3 a4f4 104ce 118b8 16f42 1d414 1d448 1d47c 1d4b0 1d4e4 1d518 "
        "1d54c 1d580 1d5b4 1d5e8 1d61c 1d650 1d684"
    ),
    "V": (
        "474 667 6f7 13d9 142f 2164 2d38 a4e6 a6df 1051d 118a0 16f08 1d20d 1d415 1d449 1d47d "
        "1d4b1 1d4e5 1d519 1d54d 1d581 1d5b5 1d5e9 1d61d 1d651 1d685"
    ),
    "W": (
        "51c 13b3 13d4 a4ea 118e6 118ef 1d416 1d44a 1d47e 1d4b2 1d4e6 1d51a 1d54e 1d582 1d5b6 "
        "1d5ea 1d61e 1d652 1d686"
    ),
    "X": (
        "3a7 425 166d 16b7 2169 2573 2cac 2d5d a4eb a7b3 ff38 10290 102b4 10317 10322 10527 "
        "118ec 1d417 1d44b 1d47f 1d4b3 1d4e7 1d51b 1d54f 1d583 1d5b7 1d5eb 1d61f 1d653 1d687 "
        "1d6be 1d6f8 1d732 1d76c 1d7a6"
    ),
    "Y": (
        "3a5 3d2 423 4ae 13a9 13bd 2ca8 a4ec ff39 102b2 118a4 16f43 1d418 1d44c 1d480 1d4b4 "
        "1d4e8 1d51c 1d550 1d584 1d5b8 1d5ec 1d620 1d654 1d688 1d6bc 1d6f6 1d730 1d76a 1d7a4"
    ),
    "Z": (
        "396 13c3 2124 2128 a4dc ff3a 102f5 118a9 118e5 1d419 1d44d 1d481 1d4b5 1d4e9 1d585 "
        "1d5b9 1d5ed 1d621 1d655 1d689 1d6ad 1d6e7 1d721 1d75b 1d795"
    ),
    "\\": "2216 27cd 29f5 29f9 2f02 31d4 4e36 fe68 ff3c 1d20f 1d23b",
    "^": "2c4 2c6",
    "_": "7fa fe4d-fe4f",
    "a": (
        "251 3b1 430 237a ff41 1d41a 1d44e 1d482 1d4b6 1d4ea 1d51e 1d552 1d586 1d5ba 1d5ee "
        "1d622 1d656 1d68a 1d6c2 1d6fc 1d736 1d770 1d7aa"
    ),
    "b": (
        "184 42c 13cf 1472 15af 1d41b 1d44f 1d483 1d4b7 1d4eb 1d51f 1d553 1d587 1d5bb 1d5ef "
        "1d623 1d657 1d68b"
    ),
    "c": (
        "3f2 441 1d04 217d 2ca5 abaf ff43 1043d 1d41c 1d450 1d484 1d4b8 1d4ec 1d520 1d554 "
        "1d588 1d5bc 1d5f0 1d624 1d658 1d68c"
    ),
    "d": (
        "501 13e7 146f 2146 217e a4d2 1d41d 1d451 1d485 1d4b9 1d4ed 1d521 1d555 1d589 1d5bd "
        "1d5f1 1d625 1d659 1d68d"
    ),
    "e": (
        "435 4bd 212e 212f 2147 ab32 ff45 1d41e 1d452 1d486 1d4ee 1d522 1d556 1d58a 1d5be "
        "1d5f2 1d626 1d65a 1d68e"
    ),
    "f": (
        "17f 584 1e9d a799 ab35 1d41f 1d453 1d487 1d4bb 1d4ef 1d523 1d557 1d58b 1d5bf 1d5f3 "
        "1d627 1d65b 1d68f"
    ),
    "g": (
        "18d 261 581 1d83 210a ff47 1d420 1d454 1d488 1d4f0 1d524 1d558 1d58c 1d5c0 1d5f4 "
        "1d628 1d65c 1d690"
    ),
    "h": (
        "4bb 570 13c2 210e ff48 1d421 1d489 1d4bd 1d4f1 1d525 1d559 1d58d 1d5c1 1d5f5 1d629 "
        "1d65d 1d691"
    ),
    "i": (
        "131 269 26a 2db 37a 3b9 456 4cf 13a5 1fbe 2139 2148 2170 2373 a647 ab75 ff49 118c3 "
        "1d422 1d456 1d48a 1d4be 1d4f2 1d526 1d55a 1d58e 1d5c2 1d5f6 1d62a 1d65e 1d692 1d6a4 "
        "1d6ca 1d704 1d73e 1d778 1d7b2"
    ),
    "j": (
        "3f3 458 2149 ff4a 1d423 1d457 1d48b 1d4bf 1d4f3 1d527 1d55b 1d58f 1d5c3 1d5f7 1d62b "
        "1d65f 1d693"
    ),
    "k": "1d424 1d458 1d48c 1d4c0 1d4f4 1d528 1d55c 1d590 1d5c4 1d5f8 1d62c 1d660 1d694",
    "l": (
        "196 1c0 399 406 4c0 5c0 5d5 5df 627 661 6f1 7ca 16c1 2110 2111 2113 2160 217c 2223 "
        "23fd 2c92 2d4f a4f2 fe8d fe8e ff29 ff4c ffe8 1028a 10309 10320 16f28 1d408 1d425 "
        "1d43c 1d459 1d470 1d48d 1d4c1 1d4d8 1d4f5 1d529 1d540 1d55d 1d574 1d591 1d5a8 1d5c5 "
        "1d5dc 1d5f9 1d610 1d62d 1d644 1d661 1d678 1d695 1d6b0 1d6ea 1d724 1d75e 1d798 1d7cf "
        "1d7d9 1d7e3 1d7ed 1d7f7 1e8c7 1ee00 1ee80 1fbf1"
    ),
    "n": ("578 57c 1d427 1d45b 1d48f 1d4c3 1d4f7 1d52b 1d55f 1d593 1d5c7 1d5fb 1d62f 1d663 1d697"),
    "o": (
        "3bf 3c3 43e 585 5e1 647 665 6be 6c1 6d5 6f5 966 a66 ae6 be6 c02 c66 c82 ce6 d02 d20 "
        "d66 d82 e50 ed0 101d 1040 10ff 1d0f 1d11 2134 2c9f ab3d fba6-fbad fee9-feec ff4f "
        "1042c 104ea 118c8 118d7 1d428 1d45c 1d490 1d4f8 1d52c 1d560 1d594 1d5c8 1d5fc 1d630 "
        "1d664 1d698 1d6d0 1d6d4 1d70a 1d70e 1d744 1d748 1d77e 1d782 1d7b8 1d7bc 1ee24 1ee64 "
        "1ee84"
    ),
    "p": (
        "3c1 3f1 440 2374 2ca3 ff50 1d429 1d45d 1d491 1d4c5 1d4f9 1d52d 1d561 1d595 1d5c9 "
        "1d5fd 1d631 1d665 1d699 1d6d2 1d6e0 1d70c 1d71a 1d746 1d754 1d780 1d78e 1d7ba 1d7c8"
    ),
    "q": (
        "51b 563 566 1d42a 1d45e 1d492 1d4c6 1d4fa 1d52e 1d562 1d596 1d5ca 1d5fe 1d632 1d666 1d69a"
    ),
    "r": (
        "433 1d26 2c85 ab47 ab48 ab81 1d42b 1d45f 1d493 1d4c7 1d4fb 1d52f 1d563 1d597 1d5cb "
        "1d5ff 1d633 1d667 1d69b"
    ),
    "s": (
        "1bd 455 a731 abaa ff53 10448 118c1 1d42c 1d460 1d494 1d4c8 1d4fc 1d530 1d564 1d598 "
        "1d5cc 1d600 1d634 1d668 1d69c"
    ),
    "t": "1d42d 1d461 1d495 1d4c9 1d4fd 1d531 1d565 1d599 1d5cd 1d601 1d635 1d669 1d69d",
    "u": (
        "28b 3c5 57d 1d1c a79f ab4e ab52 104f6 118d8 1d42e 1d462 1d496 1d4ca 1d4fe 1d532 "
        "1d566 1d59a 1d5ce 1d602 1d636 1d66a 1d69e 1d6d6 1d710 1d74a 1d784 1d7be"
    ),
    "v": (
        "3bd 475 5d8 1d20 2174 2228 22c1 aba9 ff56 11706 118c0 1d42f 1d463 1d497 1d4cb 1d4ff "
        "1d533 1d567 1d59b 1d5cf 1d603 1d637 1d66b 1d69f 1d6ce 1d708 1d742 1d77c 1d7b6"
    ),
    "w": (
        "26f 461 51d 561 1d21 ab83 1170a 1170e 1170f 1d430 1d464 1d498 1d4cc 1d500 1d534 "
        "1d568 1d59c 1d5d0 1d604 1d638 1d66c 1d6a0"
    ),
    "x": (
        "d7 445 1541 157d 166e 2179 292b 292c 2a2f ff58 1d431 1d465 1d499 1d4cd 1d501 1d535 "
        "1d569 1d59d 1d5d1 1d605 1d639 1d66d 1d6a1"
    ),
    "y": (
        "263 28f 3b3 443 4af 10e7 1d8c 1eff 213d ab5a ff59 118dc 1d432 1d466 1d49a 1d4ce "
        "1d502 1d536 1d56a 1d59e 1d5d2 1d606 1d63a 1d66e 1d6a2 1d6c4 1d6fe 1d738 1d772 1d7ac"
    ),
    "z": (
        "1d22 ab93 118c4 1d433 1d467 1d49b 1d4cf 1d503 1d537 1d56b 1d59f 1d5d3 1d607 1d63b "
        "1d66f 1d6a3"
    ),
    "{": "2774 1d114",
    "}": "2775",
    "~": "2dc 1fc0 2053 223c",
}


def _expand(table: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ascii_char, codes in table.items():
        for item in codes.split():
            first, _, last = item.partition("-")
            for code in range(int(first, 16), int(last or first, 16) + 1):
                out[chr(code)] = ascii_char
    return out


#: Each look-alike character -> the printable ASCII character it can pass for.
LOOKALIKES: Mapping[str, str] = _expand(_TABLE)

_LOOKALIKE_SET = frozenset(LOOKALIKES)
#: Look-alikes to their ASCII characters, and the characters drawn as blank space
#: (:data:`hoodsync.terminal.BLANKS`) to a space.
_AS_ASCII = str.maketrans({**LOOKALIKES, **dict.fromkeys(BLANKS, " ")})
#: The Unicode categories of characters that show as nothing of their own: format characters
#: (the zero-width space, joiners, bidirectional controls), marks that combine with the
#: character before, controls, surrogates, private use and unassigned code points. Every
#: default-ignorable code point is of one of them, but for :data:`hoodsync.terminal.BLANKS`
#: (letters to Unicode), which show as a space.
_INVISIBLE = frozenset(("Cf", "Mn", "Me", "Cc", "Cs", "Co", "Cn"))
_WORD = re.compile(r"\w+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")
_encode_str = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False), in C


def skeleton(text: str) -> str:
    """What a reader sees of ``text``, roughly, as one string: two texts that look the same
    have one skeleton. Compatibility forms are folded (NFKC); every character that shows as
    nothing is dropped (:data:`_INVISIBLE`: format characters such as the zero-width space,
    combining marks, controls); every run of whitespace (``str.isspace``: spaces of every
    width, the no-break spaces, tabs, line breaks) and of characters drawn as blank space
    (:data:`hoodsync.terminal.BLANKS`: the Hangul fillers, the blank Braille pattern) is one
    space, and none is kept at either end; every character that can pass for an ASCII one
    (:data:`LOOKALIKES`, from Unicode's confusables) is that one. So ``Daily news`` is the
    skeleton of ``D\\u0430ily news``, ``Daily\\u00a0news``, ``Daily news\\u3164``,
    `` Daily news`` and ``Daily  news``. Printable ASCII only has its spaces tidied (no
    Unicode normalisation). Linear in ``text``."""
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    shown = "".join(
        char
        for char in unicodedata.normalize("NFKC", text)
        if char.isspace() or unicodedata.category(char) not in _INVISIBLE
    )
    return " ".join(shown.translate(_AS_ASCII).split())


_T = TypeVar("_T")


def collisions(items: Iterable[tuple[Hashable, str, _T]]) -> Iterator[tuple[_T, _T]]:
    """For ``(group, name, item)`` triples: ``(first, later)`` for each item whose name is, or
    looks like (same :func:`skeleton`), the name of an earlier item of its group, ``first``
    being the earliest of that look. One dict keyed by (group, skeleton): linear, never
    pairwise."""
    seen: dict[tuple[Hashable, str], _T] = {}
    for group, name, item in items:
        first = seen.setdefault((group, skeleton(name)), item)
        if first is not item:
            yield first, item


def differ_to_the_eye(one: str, other: str) -> bool:
    """``skeleton(one) != skeleton(other)``; the same text never needs a skeleton, and
    printable ASCII needs no Unicode normalisation."""
    return one != other and skeleton(one) != skeleton(other)


def look_alike(one: str, other: str) -> bool:
    """True when ``one`` and ``other`` differ but look the same (their :func:`skeleton` is
    one): ``Daily news`` and ``D\\u0430ily news`` (a Cyrillic ``а``), ``Spring Sale`` and
    ``\\u0405pring Sale``, a no-break space for a space, a zero-width joiner inside a word, a
    Hangul filler or a space at either end, two spaces for one."""
    return one != other and not differ_to_the_eye(one, other)


def revealed(text: str) -> frozenset[int]:
    """Where ``text`` holds look-alikes that stand among ASCII text, to escape (the examples
    below spell them as escapes, as the plan shows them): the letters and digits that can pass
    for ASCII ones (:data:`LOOKALIKES`) when every letter of ``text`` outside ASCII is one and
    ``text`` holds an ASCII letter (``https://oc\\u0430mba.com``,
    ``https://\\u0430\\u0440\\u0440\\u04c0\\u0435.com``), and every character outside ASCII of a
    word that mixes ASCII letters or digits with such look-alikes (``Sale at oc\\u0430mba``, a
    Latin ``p`` in ``\\u041fp\\u0438\\u0432\\u0435\\u0442``). Text in another script
    (``Привет``, ``Grüße``, ``Скидка на iPhone``) has none: it is shown as written.
    Linear in ``text``: the set and pattern tests run in C, a Python loop only over words that
    hold a look-alike, or over the text when it has one amid ASCII."""
    if text.isascii() or _LOOKALIKE_SET.isdisjoint(text) or not _ASCII_ALNUM.search(text):
        return frozenset()  # both rules need a look-alike and an ASCII letter or digit
    marked: set[int] = set()
    if _ASCII_LETTER.search(text):
        chars = set(text)
        if all(c in _LOOKALIKE_SET for c in chars if c.isalpha() and not c.isascii()):
            alike = {c for c in chars & _LOOKALIKE_SET if c.isalnum()}
            marked.update(i for i, c in enumerate(text) if c in alike)
    for word in _WORD.finditer(text):
        chars_of = word.group()
        if chars_of.isascii() or _LOOKALIKE_SET.isdisjoint(chars_of):
            continue
        if _ASCII_ALNUM.search(chars_of):
            first = word.start()
            marked.update(first + i for i, c in enumerate(chars_of) if not c.isascii())
    return frozenset(marked)


def window(
    text: str, start: int, end: int, *, ascii_only: bool = False, escape: Set[int] = frozenset()
) -> str:
    """``text[start:end]`` as a JSON string, safe to print (:func:`hoodsync.terminal.json_safe`),
    ``...`` inside the quotes where text was left out; every character outside ASCII
    (``ascii_only``), or those at the indices (in ``text``) of ``escape``, written as
    ``\\uXXXX``."""
    part = text[start:end]
    if ascii_only:
        inner = json.dumps(part)[1:-1]
    elif escape:
        pieces, at = [], start
        for index in sorted(i for i in escape if start <= i < end):
            pieces += [_encode_str(text[at:index])[1:-1], json.dumps(text[index])[1:-1]]
            at = index + 1
        inner = "".join(pieces) + _encode_str(text[at:end])[1:-1]
    else:
        inner = _encode_str(part)[1:-1]
    return json_safe(
        '"' + ("..." if start > 0 else "") + inner + ("..." if end < len(text) else "") + '"'
    )


def distinct(
    before: str,
    after: str,
    start: int = 0,
    end_before: int | None = None,
    end_after: int | None = None,
) -> tuple[str, str]:
    """The two windows (:func:`window`; by default the whole of each), so that every
    difference shows.

    Where they would still look alike although the strings differ (a no-break space for a
    space, a joiner, a combining accent for a precomposed letter, a Cyrillic ``а`` for a Latin
    ``a``: :func:`skeleton`), both with every character outside ASCII escaped. Otherwise each
    with its look-alikes among ASCII text escaped (:func:`revealed`): a look-alike next to a
    visible edit (``ocamba.com/a`` -> ``oc\\u0430mba.com/b``) would pass unseen."""
    end_before = len(before) if end_before is None else end_before
    end_after = len(after) if end_after is None else end_after
    shown = (window(before, start, end_before), window(after, start, end_after))
    if before == after:
        return shown
    if not differ_to_the_eye(*shown):
        return (
            window(before, start, end_before, ascii_only=True),
            window(after, start, end_after, ascii_only=True),
        )
    marked = (revealed(before), revealed(after))
    if not (marked[0] or marked[1]):
        return shown
    return (
        window(before, start, end_before, escape=marked[0]),
        window(after, start, end_after, escape=marked[1]),
    )


def quoted_name(name: object) -> str:
    """``name`` (made a string) as a quoted JSON string, safe to print, with its look-alikes
    among ASCII text escaped (:func:`revealed`): ``"D\\u0430ily news"`` for a name whose ``а``
    is Cyrillic, ``"Привет"`` and ``"Grüße"`` as written. How the plan shows one name alone;
    two side by side are :func:`distinct`."""
    text = str(name)
    return window(text, 0, len(text), escape=revealed(text))
