"""Product and category pictures, drawn as SVG from a hue and a glyph name.

Nothing is downloaded: every picture is a soft gradient with a simple pet or
product glyph made of SVG shapes. The output depends only on its inputs, so
the same product always gets the same picture and browsers may cache it.
The SVG holds no text and no data from the request, only numbers from the
catalogue, so nothing in it needs escaping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    hue: int

    def hsl(self, saturation: int, lightness: int, shift: int = 0) -> str:
        return f"hsl({(self.hue + shift) % 360}, {saturation}%, {lightness}%)"

    @property
    def bg_from(self) -> str:
        return self.hsl(80, 93)

    @property
    def bg_to(self) -> str:
        return self.hsl(70, 82, 28)

    @property
    def ink(self) -> str:
        return self.hsl(48, 32)

    @property
    def main(self) -> str:
        return self.hsl(62, 56)

    @property
    def soft(self) -> str:
        return self.hsl(75, 78)

    @property
    def accent(self) -> str:
        return self.hsl(85, 62, 160)


# Glyphs: each draws into a 200 x 200 box, centred on (100, 100).


def _paw(p: Palette) -> str:
    return (
        f'<ellipse cx="100" cy="128" rx="46" ry="38" fill="{p.main}"/>'
        f'<ellipse cx="52" cy="82" rx="17" ry="22" fill="{p.main}" transform="rotate(-20 52 82)"/>'
        f'<ellipse cx="82" cy="56" rx="17" ry="23" fill="{p.main}"/>'
        f'<ellipse cx="118" cy="56" rx="17" ry="23" fill="{p.main}"/>'
        f'<ellipse cx="148" cy="82" rx="17" ry="22" fill="{p.main}" '
        f'transform="rotate(20 148 82)"/>'
        f'<ellipse cx="86" cy="118" rx="12" ry="8" fill="#fff" opacity=".35"/>'
    )


def _fish(p: Palette) -> str:
    return (
        f'<path d="M150 100 L192 66 L186 100 L192 134 Z" fill="{p.ink}"/>'
        f'<ellipse cx="96" cy="100" rx="66" ry="42" fill="{p.main}"/>'
        f'<path d="M84 60 Q100 36 124 62 Z" fill="{p.ink}"/>'
        f'<path d="M70 66 Q86 100 70 134" stroke="{p.ink}" stroke-width="5" fill="none" '
        f'opacity=".35"/>'
        f'<circle cx="56" cy="92" r="9" fill="#fff"/><circle cx="54" cy="92" r="4.5" '
        f'fill="{p.ink}"/>'
        f'<ellipse cx="108" cy="82" rx="26" ry="9" fill="#fff" opacity=".3"/>'
    )


def _bone(p: Palette) -> str:
    return (
        '<g transform="rotate(-28 100 100)">'
        f'<rect x="46" y="84" width="108" height="32" rx="10" fill="{p.main}"/>'
        f'<circle cx="46" cy="82" r="20" fill="{p.main}"/>'
        f'<circle cx="46" cy="118" r="20" fill="{p.main}"/>'
        f'<circle cx="154" cy="82" r="20" fill="{p.main}"/>'
        f'<circle cx="154" cy="118" r="20" fill="{p.main}"/>'
        '<rect x="58" y="90" width="84" height="7" rx="3.5" fill="#fff" opacity=".35"/>'
        "</g>"
    )


def _ball(p: Palette) -> str:
    return (
        f'<circle cx="100" cy="100" r="64" fill="{p.accent}"/>'
        f'<path d="M48 62 Q100 100 48 140" stroke="#fff" stroke-width="8" fill="none"/>'
        f'<path d="M152 62 Q100 100 152 140" stroke="#fff" stroke-width="8" fill="none"/>'
        '<ellipse cx="78" cy="70" rx="18" ry="10" fill="#fff" opacity=".35" '
        'transform="rotate(-30 78 70)"/>'
    )


def _bowl(p: Palette) -> str:
    return (
        f'<circle cx="78" cy="84" r="12" fill="{p.accent}"/>'
        f'<circle cx="102" cy="76" r="12" fill="{p.ink}"/>'
        f'<circle cx="124" cy="86" r="12" fill="{p.accent}"/>'
        f'<circle cx="92" cy="92" r="11" fill="{p.ink}"/>'
        f'<circle cx="114" cy="94" r="11" fill="{p.accent}"/>'
        f'<path d="M34 96 H166 Q160 150 126 156 H74 Q40 150 34 96 Z" fill="{p.main}"/>'
        f'<rect x="30" y="90" width="140" height="12" rx="6" fill="{p.ink}"/>'
        '<path d="M62 112 Q66 136 84 142" stroke="#fff" stroke-width="6" fill="none" '
        'opacity=".35" stroke-linecap="round"/>'
    )


def _mouse(p: Palette) -> str:
    return (
        f'<path d="M150 124 Q186 130 178 160 Q172 180 150 174" stroke="{p.ink}" '
        'stroke-width="5" fill="none" stroke-linecap="round"/>'
        f'<path d="M34 130 Q40 70 100 66 Q158 70 158 130 Z" fill="{p.main}"/>'
        f'<circle cx="70" cy="66" r="20" fill="{p.main}"/>'
        f'<circle cx="70" cy="66" r="11" fill="{p.soft}"/>'
        f'<circle cx="50" cy="108" r="6" fill="{p.ink}"/>'
        f'<circle cx="32" cy="128" r="6" fill="{p.accent}"/>'
        f'<rect x="34" y="126" width="124" height="8" rx="4" fill="{p.ink}" opacity=".25"/>'
    )


def _feather(p: Palette) -> str:
    return (
        f'<path d="M40 176 Q90 110 150 30" stroke="{p.ink}" stroke-width="5" fill="none" '
        'stroke-linecap="round"/>'
        f'<path d="M150 30 Q176 74 126 126 Q92 150 70 146 Q76 94 150 30 Z" fill="{p.main}"/>'
        f'<path d="M150 30 Q122 90 74 142" stroke="#fff" stroke-width="4" fill="none" '
        'opacity=".5"/>'
        f'<path d="M112 84 L140 78 M100 100 L130 100 M88 116 L114 122" stroke="{p.soft}" '
        'stroke-width="4" stroke-linecap="round"/>'
    )


def _bag(p: Palette) -> str:
    return (
        f'<path d="M52 52 H148 L160 170 Q100 180 40 170 Z" fill="{p.main}"/>'
        f'<path d="M52 52 L64 36 H136 L148 52 Z" fill="{p.ink}"/>'
        f'<circle cx="100" cy="112" r="30" fill="#fff" opacity=".9"/>'
        f'<ellipse cx="100" cy="120" rx="12" ry="10" fill="{p.accent}"/>'
        f'<circle cx="86" cy="102" r="5.5" fill="{p.accent}"/>'
        f'<circle cx="100" cy="97" r="5.5" fill="{p.accent}"/>'
        f'<circle cx="114" cy="102" r="5.5" fill="{p.accent}"/>'
        f'<rect x="62" y="150" width="76" height="8" rx="4" fill="#fff" opacity=".4"/>'
    )


def _litter(p: Palette) -> str:
    return (
        f'<path d="M30 92 H170 L158 160 Q100 168 42 160 Z" fill="{p.main}"/>'
        f'<path d="M36 92 Q60 76 84 90 Q110 74 134 88 Q152 78 164 92 Z" fill="{p.soft}"/>'
        f'<rect x="26" y="86" width="148" height="12" rx="6" fill="{p.ink}"/>'
        f'<path d="M130 40 L156 86" stroke="{p.accent}" stroke-width="9" '
        'stroke-linecap="round"/>'
        f'<rect x="112" y="22" width="40" height="28" rx="8" fill="{p.accent}" '
        'transform="rotate(30 132 36)"/>'
    )


def _rope(p: Palette) -> str:
    return (
        f'<path d="M40 150 Q70 40 100 100 Q130 160 160 50" stroke="{p.main}" stroke-width="26" '
        'fill="none" stroke-linecap="round"/>'
        f'<path d="M40 150 Q70 40 100 100 Q130 160 160 50" stroke="#fff" stroke-width="6" '
        'fill="none" stroke-dasharray="10 14" opacity=".6"/>'
        f'<circle cx="40" cy="152" r="20" fill="{p.accent}"/>'
        f'<circle cx="160" cy="48" r="20" fill="{p.accent}"/>'
    )


def _collar(p: Palette) -> str:
    return (
        f'<circle cx="100" cy="92" r="56" stroke="{p.main}" stroke-width="22" fill="none"/>'
        f'<circle cx="100" cy="92" r="56" stroke="#fff" stroke-width="3" fill="none" '
        'stroke-dasharray="6 10" opacity=".6"/>'
        f'<rect x="134" y="64" width="30" height="22" rx="4" fill="{p.ink}"/>'
        f'<path d="M100 148 v10" stroke="{p.ink}" stroke-width="5"/>'
        f'<circle cx="100" cy="172" r="16" fill="{p.accent}"/>'
        '<circle cx="95" cy="167" r="4" fill="#fff" opacity=".5"/>'
    )


def _leash(p: Palette) -> str:
    return (
        f'<ellipse cx="66" cy="62" rx="30" ry="38" stroke="{p.main}" stroke-width="14" '
        'fill="none"/>'
        f'<path d="M80 96 Q120 150 150 156" stroke="{p.main}" stroke-width="14" fill="none" '
        'stroke-linecap="round"/>'
        f'<rect x="140" y="144" width="24" height="22" rx="5" fill="{p.ink}"/>'
        f'<circle cx="164" cy="170" r="13" stroke="{p.accent}" stroke-width="6" fill="none"/>'
    )


def _plant(p: Palette) -> str:
    return (
        f'<path d="M100 176 Q80 120 60 70" stroke="{p.main}" stroke-width="14" fill="none" '
        'stroke-linecap="round"/>'
        f'<path d="M100 176 Q104 110 120 40" stroke="{p.ink}" stroke-width="14" fill="none" '
        'stroke-linecap="round"/>'
        f'<path d="M100 176 Q128 140 156 110" stroke="{p.main}" stroke-width="12" fill="none" '
        'stroke-linecap="round"/>'
        f'<circle cx="148" cy="54" r="9" fill="none" stroke="#fff" stroke-width="4"/>'
        f'<circle cx="160" cy="28" r="6" fill="none" stroke="#fff" stroke-width="3"/>'
        f'<circle cx="44" cy="40" r="7" fill="none" stroke="#fff" stroke-width="3"/>'
        f'<rect x="50" y="170" width="100" height="14" rx="7" fill="{p.accent}"/>'
    )


def _bird(p: Palette) -> str:
    return (
        f'<ellipse cx="96" cy="116" rx="58" ry="46" fill="{p.main}"/>'
        f'<circle cx="140" cy="72" r="32" fill="{p.main}"/>'
        f'<path d="M168 66 L192 76 L168 86 Z" fill="{p.accent}"/>'
        f'<circle cx="148" cy="66" r="6" fill="{p.ink}"/>'
        f'<path d="M50 104 Q90 96 112 128 Q80 150 50 104 Z" fill="{p.ink}" opacity=".55"/>'
        f'<path d="M40 118 L10 104 L22 128 Z" fill="{p.ink}"/>'
        f'<path d="M84 160 v18 M108 160 v18" stroke="{p.ink}" stroke-width="5" '
        'stroke-linecap="round"/>'
    )


def _carrot(p: Palette) -> str:
    return (
        '<path d="M120 50 Q150 20 150 40 Q148 56 130 62 Z" fill="hsl(130, 55%, 42%)"/>'
        '<path d="M116 46 Q112 12 128 20 Q134 36 126 56 Z" fill="hsl(125, 50%, 36%)"/>'
        '<path d="M126 58 Q142 70 136 86 L58 176 Q44 184 40 170 L102 66 Q112 52 126 58 Z" '
        'fill="hsl(28, 90%, 58%)"/>'
        '<path d="M82 100 l14 8 M66 128 l14 8 M54 152 l12 7" stroke="hsl(24, 80%, 44%)" '
        'stroke-width="5" stroke-linecap="round"/>'
        f'<circle cx="160" cy="150" r="20" fill="{p.main}"/>'
    )


def _house(p: Palette) -> str:
    return (
        f'<path d="M40 96 L100 44 L160 96 V168 H40 Z" fill="{p.main}"/>'
        f'<path d="M28 100 L100 36 L172 100" stroke="{p.ink}" stroke-width="14" fill="none" '
        'stroke-linecap="round" stroke-linejoin="round"/>'
        f'<path d="M76 168 V130 Q100 100 124 130 V168 Z" fill="{p.ink}"/>'
        f'<rect x="30" y="164" width="140" height="12" rx="6" fill="{p.accent}"/>'
    )


def _bed(p: Palette) -> str:
    return (
        f'<ellipse cx="100" cy="124" rx="82" ry="44" fill="{p.main}"/>'
        f'<ellipse cx="100" cy="116" rx="58" ry="26" fill="{p.soft}"/>'
        f'<path d="M70 110 Q100 96 130 110" stroke="{p.ink}" stroke-width="5" fill="none" '
        'stroke-linecap="round" opacity=".4"/>'
        f'<circle cx="132" cy="104" r="13" fill="{p.accent}"/>'
        '<ellipse cx="60" cy="132" rx="16" ry="7" fill="#fff" opacity=".3"/>'
    )


def _heart(p: Palette) -> str:
    return (
        f'<path d="M100 170 Q34 122 34 80 Q34 44 66 42 Q88 42 100 64 Q112 42 134 42 '
        f'Q166 44 166 80 Q166 122 100 170 Z" fill="{p.main}"/>'
        '<path d="M92 80 h16 v16 h16 v16 h-16 v16 h-16 v-16 h-16 v-16 h16 Z" fill="#fff"/>'
    )


def _pill(p: Palette) -> str:
    return (
        '<g transform="rotate(-35 100 100)">'
        f'<rect x="30" y="72" width="140" height="56" rx="28" fill="{p.main}"/>'
        f'<path d="M100 72 H142 A28 28 0 0 1 142 128 H100 Z" fill="{p.accent}"/>'
        '<rect x="44" y="82" width="44" height="9" rx="4.5" fill="#fff" opacity=".45"/>'
        "</g>"
    )


def _brush(p: Palette) -> str:
    return (
        '<g transform="rotate(-30 100 100)">'
        f'<rect x="40" y="56" width="120" height="46" rx="18" fill="{p.main}"/>'
        f'<rect x="90" y="100" width="20" height="74" rx="10" fill="{p.ink}"/>'
        f'<path d="M52 56 v-18 M66 56 v-18 M80 56 v-18 M94 56 v-18 M108 56 v-18 '
        f'M122 56 v-18 M136 56 v-18 M150 56 v-18" stroke="{p.accent}" stroke-width="5" '
        'stroke-linecap="round"/>'
        "</g>"
    )


def _comb(p: Palette) -> str:
    teeth = " ".join(f"M{x} 98 v52" for x in range(46, 160, 12))
    return (
        f'<rect x="34" y="58" width="132" height="44" rx="12" fill="{p.main}"/>'
        f'<path d="{teeth}" stroke="{p.main}" stroke-width="6" stroke-linecap="round"/>'
        '<rect x="48" y="68" width="60" height="8" rx="4" fill="#fff" opacity=".4"/>'
    )


def _bottle(p: Palette) -> str:
    return (
        f'<rect x="80" y="22" width="40" height="24" rx="6" fill="{p.ink}"/>'
        f'<rect x="88" y="44" width="24" height="18" fill="{p.main}"/>'
        f'<rect x="54" y="58" width="92" height="122" rx="24" fill="{p.main}"/>'
        '<rect x="68" y="92" width="64" height="54" rx="12" fill="#fff" opacity=".92"/>'
        f'<circle cx="100" cy="119" r="13" fill="{p.accent}"/>'
        '<rect x="64" y="70" width="9" height="96" rx="4.5" fill="#fff" opacity=".35"/>'
    )


GLYPHS: dict[str, Callable[[Palette], str]] = {
    "paw": _paw,
    "fish": _fish,
    "bone": _bone,
    "ball": _ball,
    "bowl": _bowl,
    "mouse": _mouse,
    "feather": _feather,
    "bag": _bag,
    "litter": _litter,
    "rope": _rope,
    "collar": _collar,
    "leash": _leash,
    "plant": _plant,
    "bird": _bird,
    "carrot": _carrot,
    "house": _house,
    "bed": _bed,
    "heart": _heart,
    "pill": _pill,
    "brush": _brush,
    "comb": _comb,
    "bottle": _bottle,
}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _gradient(p: Palette, gid: str, angle: int) -> str:
    return (
        f'<defs><linearGradient id="{gid}" gradientTransform="rotate({angle} .5 .5)">'
        f'<stop offset="0" stop-color="{p.bg_from}"/><stop offset="1" stop-color="{p.bg_to}"/>'
        "</linearGradient></defs>"
    )


def _bubbles(p: Palette, seed: bytes, width: int, height: int, count: int) -> str:
    parts = []
    for i in range(count):
        x = seed[i * 3] / 255 * width
        y = seed[i * 3 + 1] / 255 * height
        r = 6 + seed[i * 3 + 2] / 255 * (min(width, height) / 7)
        parts.append(
            f'<circle cx="{x:.0f}" cy="{y:.0f}" r="{r:.0f}" fill="#fff" '
            f'opacity="{0.18 + (seed[i] % 5) / 40:.2f}"/>'
        )
    return "".join(parts)


def product_svg(*, key: str, hue: int, shape: str) -> str:
    """A 400 x 400 product picture; ``key`` (the slug) varies the decoration."""
    palette = Palette(hue % 360)
    seed = _digest(key)
    glyph = GLYPHS.get(shape, _paw)(palette)
    tilt = seed[20] % 17 - 8
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" width="400" '
        'height="400" role="img">'
        f"{_gradient(palette, 'bg', 30 + seed[21] % 60)}"
        '<rect width="400" height="400" fill="url(#bg)"/>'
        f"{_bubbles(palette, seed, 400, 400, 5)}"
        f'<ellipse cx="200" cy="324" rx="118" ry="16" fill="{palette.ink}" opacity=".14"/>'
        f'<g transform="translate(80 86) scale(1.2) rotate({tilt} 100 100)">{glyph}</g>'
        "</svg>"
    )


def category_svg(*, key: str, hue: int, shapes: tuple[str, ...]) -> str:
    """A 480 x 320 category tile: its main glyph large, a second one small, paw prints."""
    palette = Palette(hue % 360)
    seed = _digest(key)
    main = GLYPHS.get(shapes[0] if shapes else "paw", _paw)(palette)
    second = GLYPHS.get(shapes[1] if len(shapes) > 1 else "paw", _paw)(palette)
    paw = _paw(Palette((hue + 10) % 360))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 320" width="480" '
        'height="320" role="img">'
        f"{_gradient(palette, 'bg', 20 + seed[0] % 40)}"
        '<rect width="480" height="320" fill="url(#bg)"/>'
        f"{_bubbles(palette, seed, 480, 320, 4)}"
        f'<g opacity=".22" transform="translate(26 196) scale(.34) rotate(-20 100 100)">{paw}</g>'
        f'<g opacity=".22" transform="translate(84 236) scale(.28) rotate(-10 100 100)">{paw}</g>'
        f'<ellipse cx="250" cy="278" rx="120" ry="14" fill="{palette.ink}" opacity=".14"/>'
        f'<g transform="translate(150 54) scale(1.1)">{main}</g>'
        f'<g transform="translate(350 160) scale(.5) rotate(12 100 100)">{second}</g>'
        "</svg>"
    )


def hero_svg() -> str:
    """The home page illustration: a pile of favourite things on a warm backdrop."""
    warm, teal, pink, berry = Palette(28), Palette(180), Palette(335), Palette(262)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 440" width="560" '
        'height="440" role="img">'
        '<circle cx="290" cy="220" r="200" fill="hsl(36, 90%, 90%)"/>'
        '<circle cx="300" cy="226" r="150" fill="hsl(28, 85%, 84%)"/>'
        f'<g opacity=".3" transform="translate(40 30) scale(.4) rotate(-25 100 100)">'
        f"{_paw(berry)}</g>"
        f'<g opacity=".3" transform="translate(100 0) scale(.32) rotate(-10 100 100)">'
        f"{_paw(berry)}</g>"
        f'<g opacity=".3" transform="translate(470 330) scale(.36) rotate(20 100 100)">'
        f"{_paw(berry)}</g>"
        '<ellipse cx="290" cy="380" rx="210" ry="20" fill="hsl(28, 40%, 30%)" opacity=".14"/>'
        f'<g transform="translate(120 150) scale(1.2)">{_bed(teal)}</g>'
        f'<g transform="translate(300 190) scale(.95)">{_bowl(warm)}</g>'
        f'<g transform="translate(200 60) scale(.8) rotate(-8 100 100)">{_mouse(pink)}</g>'
        f'<g transform="translate(360 70) scale(.7)">{_ball(Palette(70))}</g>'
        f'<g transform="translate(96 250) scale(.7) rotate(10 100 100)">{_bone(berry)}</g>'
        f'<g transform="translate(410 250) scale(.55)">{_fish(teal)}</g>'
        "</svg>"
    )
