"""Turn a failed tool run into one screen: the message, a suggestion, and
where the full traceback went."""
import difflib
import inspect
import os
import re
import sys
import tempfile
import traceback
from typing import Callable, Iterable, List, Optional

DEBUG_FLAG = '--debug'


def _registries() -> Iterable:
    """Every registry of mmengine, mmpretrain and (when installed) mmdet."""
    import mmengine.registry as root
    import mmpretrain.registry as pretrain
    modules = [root, pretrain]
    try:
        import mmdet.registry as det
        modules.append(det)
    except ImportError:
        pass
    from mmengine.registry import Registry
    seen = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Registry) and id(value) not in seen:
                seen.add(id(value))
                yield value


def registered_names() -> List[str]:
    return sorted({name for reg in _registries() for name in reg.module_dict})


def find_class(name: str):
    for reg in _registries():
        if name in reg.module_dict:
            return reg.module_dict[name]
    return None


def closest(word: str, choices: Iterable[str]) -> Optional[str]:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return found[0] if found else None


def suggestion(message: str) -> Optional[str]:
    """A 'did you mean' for an unknown type or keyword, when one is close."""
    if 'mmcv._ext' in message or "module named '_ext'" in message:
        return ('mmcv is installed without its compiled ops (the quick '
                'set-up of make demo); detection and segmentation configs '
                'need them: run `make setup` (builds them, about 15 min on 2 '
                'cores, or takes a cached wheel)')
    unknown_type = re.search(r"([\w.]+) is not in the ([\w:]+) registry",
                             message)
    if unknown_type:
        name = unknown_type.group(1).split('.')[-1]
        match = closest(name, registered_names())
        if match:
            return f"did you mean type='{match}'?"
        return None
    bad_kwarg = re.search(
        r"(?:class `)?(\w+)`?(?:\.__init__\(\))?.*unexpected keyword "
        r"argument '(\w+)'", message)
    if bad_kwarg:
        cls = find_class(bad_kwarg.group(1))
        if cls is None:
            return None
        params = [p for p in inspect.signature(cls).parameters
                  if p not in ('self', 'args', 'kwargs')]
        match = closest(bad_kwarg.group(2), params)
        if match:
            return (f"did you mean {match}=...? {bad_kwarg.group(1)} takes "
                    f"{', '.join(params)}")
        return f"{bad_kwarg.group(1)} takes {', '.join(params)}"
    return None


def run_cli(main: Callable[[], object], work_dir_hint: str = '') -> None:
    """Run a tool's ``main``; on error print one screen and exit 1.

    ``--debug`` on the command line (removed before ``main`` parses it)
    or ``NNCLR_DEBUG=1`` shows the full traceback instead. Without them the
    traceback is written to a file whose path is printed.
    """
    debug = os.environ.get('NNCLR_DEBUG') == '1'
    if DEBUG_FLAG in sys.argv:
        sys.argv.remove(DEBUG_FLAG)
        debug = True
    try:
        main()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: B902 - the point is to catch all
        if debug:
            raise
        message = str(err).strip()
        if isinstance(err, KeyError) and len(err.args) == 1:
            message = str(err.args[0])  # str() of a KeyError adds quotes
        message = message or type(err).__name__
        tip = suggestion(message)
        with tempfile.NamedTemporaryFile(
                'w', prefix='nnclr_error_', suffix='.txt',
                delete=False) as f:
            traceback.print_exc(file=f)
            trace_file = f.name
        lines = [f'error: {type(err).__name__}: {message}']
        if tip:
            lines.append(f'hint: {tip}')
        lines.append(f'(full traceback in {trace_file}; rerun with '
                     f'{DEBUG_FLAG} to print it)')
        print('\n'.join(lines), file=sys.stderr)
        sys.exit(1)
