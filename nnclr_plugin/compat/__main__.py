"""``python -m nnclr_plugin.compat``: which import-time fixes apply here."""
import nnclr_plugin  # noqa: F401  (applies the fixes)
from nnclr_plugin.compat import DISABLE_ENV, disabled, report

if __name__ == '__main__':
    if disabled():
        print(f'{DISABLE_ENV} is set: no fix was applied')
    for name, state in report().items():
        print(f'{name:40s} {state}')
