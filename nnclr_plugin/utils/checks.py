"""Argument checks shared by the plugin's components.

Config values reach constructors untyped: ``k=True`` passes
``isinstance(k, int)`` and ``threshold=0.5`` is truthy, so both would
silently mean something else. These checks reject them with the argument's
name and value.
"""


def check_bool(owner: str, **flags) -> None:
    """Raise unless every flag is a real bool.

    Args:
        owner (str): The component, named in the message.
        **flags: The flags to check, by argument name.
    """
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f'{owner}: {key} must be a bool (True/False), '
                             f'got {key}={value!r}')


def check_int(owner: str, minimum: int = 1, optional: bool = False,
              **values) -> None:
    """Raise unless every value is an int (not a bool) ``>= minimum``.

    Args:
        owner (str): The component, named in the message.
        minimum (int): Smallest allowed value. Defaults to 1.
        optional (bool): Also accept None. Defaults to False.
        **values: The values to check, by argument name.
    """
    for key, value in values.items():
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < minimum:
            raise ValueError(
                f'{owner}: {key} must be an int >= {minimum}'
                f'{" or None" if optional else ""}, got {key}={value!r}')


def check_positive(owner: str, optional: bool = False, **values) -> None:
    """Raise unless every value is a real number ``> 0`` (NaN fails).

    Args:
        owner (str): The component, named in the message.
        optional (bool): Also accept None. Defaults to False.
        **values: The values to check, by argument name.
    """
    for key, value in values.items():
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not value > 0:
            raise ValueError(
                f'{owner}: {key} must be > 0{" or None" if optional else ""}'
                f', got {key}={value!r}')
