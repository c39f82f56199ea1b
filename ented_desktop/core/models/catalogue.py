"""The models ENTED Desktop knows by name: where each comes from, what it is, what it weighs, and its licence.

Upstream publishes no checksums for these files. Each sha256 and size below was therefore taken from public
projects that pin them after downloading the official release asset; the comment above each entry names where
(at least two independent ones where they could be found; an entry with fewer says so). Downloads are refused
unless they match byte for byte.

The download URL's base can be redirected (``ENTED_MODELS_URL_BASE``, or ``url_base=`` in code) for tests and
for mirrors; the checksums cannot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import UserError

URL_BASE_ENV = "ENTED_MODELS_URL_BASE"


@dataclass(frozen=True)
class CatalogueEntry:
    name: str                 # the name used with `ented restore --model NAME`
    display: str
    architecture: str         # ented | gfpgan | codeformer | restoreformer | restoreformer++ | realesrgan
    purpose: str              # face | background
    resolution: int           # face size in pixels; 0 for background models
    scale: int
    file_name: str            # the upstream file's name
    url: str | None           # None: shipped with the application
    size_bytes: int
    sha256: str
    licence: str
    licence_url: str
    non_commercial: bool = False   # the licence forbids commercial use: ask before downloading

    @property
    def shipped(self) -> bool:
        return self.url is None


CATALOGUE: tuple[CatalogueEntry, ...] = (
    # Our own model, shipped in models/ beside the application; size and sha256 from models/manifest.sha256,
    # re-computed from the file when it was catalogued.
    CatalogueEntry(
        name="ented-lfw128", display="ENTED (LFW, 128 px)", architecture="ented", purpose="face",
        resolution=128, scale=1, file_name="ented-lfw128.safetensors", url=None, size_bytes=7553100,
        sha256="c512e943a67014dc7e065d265e3ece1097573012232acb1663d31725289d19ac",
        licence="Apache-2.0", licence_url="https://www.apache.org/licenses/LICENSE-2.0",
    ),
    # sha256 pinned by Quaggles/SwarmUI-FaceTools (Utils.cs, ModelSha256Checksums) and by
    # KSCorpr/Turbo-Slop-Generator-3000 (scripts/setup_tools.py, FACE_RESTORERS); also by several unnamed
    # installers in the code index. Size 348,632,874 from VycheslavUkraincev/smh
    # (scripts/download_path_a_weights.sh, checked there against the release's Content-Length) and from a
    # frame-enhancer model registry in the index that pins size and sha256 together (index id 71468129787).
    CatalogueEntry(
        name="gfpgan-1.4", display="GFPGAN v1.4", architecture="gfpgan", purpose="face", resolution=512,
        scale=1, file_name="GFPGANv1.4.pth",
        url="https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth",
        size_bytes=348632874, sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
        licence="Apache-2.0", licence_url="https://github.com/TencentARC/GFPGAN/blob/master/LICENSE",
    ),
    # ONE source only: size 290,861,237 and sha256 are pinned together by a face-restoration node module in the
    # code index (index id 55191328681, "Face restoration nodes: GFPGAN (fast) and RestoreFormer (quality)");
    # no second independent project pinning this file was found.
    CatalogueEntry(
        name="restoreformer", display="RestoreFormer", architecture="restoreformer", purpose="face",
        resolution=512, scale=1, file_name="RestoreFormer.ckpt",
        url="https://github.com/wzhouxiff/RestoreFormerPlusPlus/releases/download/v1.0.0/RestoreFormer.ckpt",
        size_bytes=290861237, sha256="4a193c716bc27cc0533d1b9307100c671e7b584ffa3ba6648182fea4b3228dff",
        licence="Apache-2.0", licence_url="https://github.com/wzhouxiff/RestoreFormerPlusPlus/blob/main/LICENSE",
    ),
    # ONE source only for the sha256: KSCorpr/Turbo-Slop-Generator-3000 (scripts/setup_tools.py,
    # FACE_RESTORERS). Size 294,028,815 from VycheslavUkraincev/smh (scripts/download_path_a_weights.sh,
    # the release's Content-Length), a different project. No second sha256 was found.
    CatalogueEntry(
        name="restoreformer++", display="RestoreFormer++", architecture="restoreformer++", purpose="face",
        resolution=512, scale=1, file_name="RestoreFormer++.ckpt",
        url="https://github.com/wzhouxiff/RestoreFormerPlusPlus/releases/download/v1.0.0/RestoreFormer++.ckpt",
        size_bytes=294028815, sha256="613fe52805f86bf8c2bffff08ae9f7a0b99f408be1bf221767af6183038be3a2",
        licence="Apache-2.0", licence_url="https://github.com/wzhouxiff/RestoreFormerPlusPlus/blob/main/LICENSE",
    ),
    # sha256 pinned by Quaggles/SwarmUI-FaceTools (Utils.cs, as codeformer-v0.1.0.pth) and by
    # KSCorpr/Turbo-Slop-Generator-3000 (scripts/setup_tools.py); size 376,637,898 pinned together with that
    # sha256 by several projects in the index (ids 63366544242, 55340242520, 68578249824, 55096411349).
    CatalogueEntry(
        name="codeformer", display="CodeFormer v0.1.0", architecture="codeformer", purpose="face",
        resolution=512, scale=1, file_name="codeformer.pth",
        url="https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth",
        size_bytes=376637898, sha256="1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7",
        licence="NTU S-Lab License 1.0 (non-commercial use only)",
        licence_url="https://github.com/sczhou/CodeFormer/blob/master/LICENSE", non_commercial=True,
    ),
    # sha256 pinned by at least six projects in the code index (ids 70340260580, 62571252678, 68838918921,
    # 65922228304, 68894880423, 52221474033); 68838918921 also pins the size 67,061,725, as does
    # VycheslavUkraincev/smh (scripts/download_path_a_weights.sh).
    CatalogueEntry(
        name="realesrgan-x2plus", display="Real-ESRGAN x2plus (background)", architecture="realesrgan",
        purpose="background", resolution=0, scale=2, file_name="RealESRGAN_x2plus.pth",
        url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/RealESRGAN_x2plus.pth",
        size_bytes=67061725, sha256="49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
        licence="BSD-3-Clause", licence_url="https://github.com/xinntao/Real-ESRGAN/blob/master/LICENSE",
    ),
)


def catalogue_entry(name: str) -> CatalogueEntry:
    """The entry called ``name``; a UserError listing the known names otherwise."""
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in CATALOGUE)
    raise UserError(f"No model called {name!r} in the catalogue; known models: {known}.")


def entry_for_sha256(digest: str) -> CatalogueEntry | None:
    """The catalogued model whose upstream file has this sha256 (an import of a file downloaded elsewhere)."""
    return next((e for e in CATALOGUE if e.sha256 == digest.lower()), None)


def download_url(entry: CatalogueEntry, url_base: str | None = None) -> str:
    """Where ``entry`` is downloaded from: its official URL, or ``url_base/FILE`` when a base is given (or set in
    ``ENTED_MODELS_URL_BASE``)."""
    if entry.url is None:
        raise UserError(f"{entry.name} ships with ENTED Desktop; there is nothing to download.")
    base = url_base or os.environ.get(URL_BASE_ENV)
    if base:
        return f"{base.rstrip('/')}/{quote(entry.file_name)}"
    return entry.url
