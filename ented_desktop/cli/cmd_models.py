"""`ented models list | info NAME | download NAME [--accept-license] | import FILE [--name NAME] | verify |
remove NAME`: the models ENTED Desktop restores with, where they live, and getting more."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="list, download, import, verify and remove restoration models")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model-dir", type=Path,
                        help="the user model directory (default: ENTED_MODEL_DIR, else the user data folder)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(action_name: str, help_text: str) -> argparse.ArgumentParser:
        return actions.add_parser(action_name, help=help_text, parents=[common])

    action("list", "installed models, then the catalogue's models not installed yet")
    info = action("info", "everything known about one model")
    info.add_argument("name")
    download = action("download", "download a catalogued model and install it")
    download.add_argument("name")
    download.add_argument("--accept-license", action="store_true",
                          help="accept the model's licence when it restricts use (CodeFormer: non-commercial only)")
    imp = action("import", "install a model file downloaded elsewhere (.pth, .ckpt, .safetensors)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="the name to use it under (default: catalogue name, else the file's name)")
    imp.add_argument("--purpose", choices=("face", "background"),
                     help="refuse the file unless it is this kind of model")
    action("verify", "check every installed model against its sha256")
    remove = action("remove", "delete an installed model (not one shipped with the app)")
    remove.add_argument("name")
    p.set_defaults(run=run)


def human_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _status(model) -> str:
    return "verified" if model.verified else ("NOT LISTED" if "not listed" in model.problem else "DAMAGED")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _resolution(model) -> str:
    return f"{model.resolution}px" if model.resolution else f"x{model.scale}"


def cmd_list(args: argparse.Namespace) -> int:
    from ented_desktop.core.models.catalogue import CATALOGUE
    from ented_desktop.core.models.store import installed_models

    models = installed_models(args.model_dir)
    rows = [["NAME", "ARCHITECTURE", "RESOLUTION", "SIZE", "LICENCE", "SHA256", "WHERE"]]
    rows += [[m.name, m.architecture, _resolution(m), human_size(m.size_bytes), m.licence, _status(m),
              str(m.path.parent) + (" (shipped)" if m.shipped else "")] for m in models]
    print(_table(rows) if models else "No model is installed.")
    names = {m.name for m in models}
    missing = [e for e in CATALOGUE if e.name not in names]
    if missing:
        print("\nAvailable from the catalogue (`ented models download NAME`):")
        rows = [["NAME", "ARCHITECTURE", "RESOLUTION", "SIZE", "LICENCE"]]
        rows += [[e.name, e.architecture, _resolution(e), human_size(e.size_bytes), e.licence] for e in missing]
        print(_table(rows))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ented_desktop.core.errors import UserError
    from ented_desktop.core.models.catalogue import CATALOGUE
    from ented_desktop.core.models.store import find_installed

    model = find_installed(args.name, args.model_dir)
    entry = next((e for e in CATALOGUE if e.name == args.name), None)
    if model is None and entry is None:
        raise UserError(f"No model called {args.name!r} is installed or in the catalogue; "
                        "`ented models list` shows them.")
    lines = []
    if model is not None:
        lines += [
            ("name", model.name), ("architecture", model.architecture), ("purpose", model.purpose),
            ("resolution", _resolution(model)), ("size", human_size(model.size_bytes)),
            ("licence", f"{model.licence} {model.licence_url}".strip()), ("weights", str(model.path)),
            ("onnx", str(model.onnx) if model.onnx else "none"),
            ("sha256", _status(model) + (f": {model.problem}" if model.problem else "")),
        ]
        if model.source_sha256:
            lines.append(("source sha256", model.source_sha256))
    else:
        lines += [("name", entry.name), ("installed", "no (`ented models download " + entry.name + "`)")]
    if entry is not None:
        lines += [("catalogue", entry.display), ("url", entry.url or "shipped with ENTED Desktop"),
                  ("file", entry.file_name), ("file size", f"{entry.size_bytes} bytes"),
                  ("file sha256", entry.sha256), ("licence link", entry.licence_url)]
        if entry.non_commercial:
            lines.append(("note", "non-commercial use only"))
    width = max(len(k) for k, _ in lines)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in lines))
    return 0


def _accept_licence(entry, accepted: bool) -> bool:
    """True when a restricted licence was accepted on the command line or, at a terminal, by answering yes."""
    if not entry.non_commercial or accepted:
        return True
    if not sys.stdin.isatty():
        return False
    print(f"{entry.display} is under the {entry.licence}:\n  {entry.licence_url}\n"
          "It may not be used commercially.", file=sys.stderr)
    answer = input("Accept this licence and download it? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cmd_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ented_desktop.core.models.catalogue import catalogue_entry, download_url
    from ented_desktop.core.models.install import check_licence, install_from_catalogue

    entry = catalogue_entry(args.name)
    download_url(entry)  # a shipped model has nothing to download: say so before asking anything
    accepted = _accept_licence(entry, args.accept_license)
    check_licence(entry, accepted)
    with tqdm(total=entry.size_bytes, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
              dynamic_ncols=True, desc=entry.file_name) as bar:
        def progress(p) -> None:
            bar.update(p.done - bar.n)

        model = install_from_catalogue(entry.name, model_dir=args.model_dir, accept_licence=accepted,
                                       progress=progress)
    print(f"Installed {model.name} ({model.architecture}, {_resolution(model)}) in {model.path.parent}; "
          f"{_usage(model)}")
    return 0


def _usage(model) -> str:
    if model.purpose == "background":
        return "it cleans and enlarges backgrounds."
    return f"use it with `ented restore --model {model.name}`."


def cmd_import(args: argparse.Namespace) -> int:
    from ented_desktop.core.models.importer import import_model

    model = import_model(args.file, name=args.name, purpose=args.purpose, model_dir=args.model_dir)
    print(f"Installed {args.file.name} as {model.name} ({model.architecture}, {_resolution(model)}); "
          f"{_usage(model)}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ented_desktop.core.models.store import verify_installed

    models = verify_installed(args.model_dir)
    for m in models:
        print(f"{m.name}: " + ("ok" if m.verified else m.problem))
    bad = [m for m in models if not m.verified]
    if bad:
        print(f"{len(bad)} of {len(models)} models failed; remove them with `ented models remove NAME` and "
              "install them again.", file=sys.stderr)
    return 1 if bad else 0


def cmd_remove(args: argparse.Namespace) -> int:
    from ented_desktop.core.models.store import remove_installed

    model = remove_installed(args.name, args.model_dir)
    print(f"Removed {model.name} from {model.path.parent}.")
    return 0


ACTIONS = {"list": cmd_list, "info": cmd_info, "download": cmd_download, "import": cmd_import,
           "verify": cmd_verify, "remove": cmd_remove}


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.action](args)
