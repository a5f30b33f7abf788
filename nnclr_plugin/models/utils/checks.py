"""Argument checks shared by the support-set components."""


def check_bool(owner: str, **flags) -> None:
    """Raise unless every flag is a real bool.

    A config value such as ``threshold=0.5`` or ``detach_weights='no'``
    would otherwise be tested for truthiness and silently mean ``True``.

    Args:
        owner (str): The component, named in the message.
        **flags: The flags to check, by argument name.
    """
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f'{owner}: {key} must be a bool (True/False), '
                             f'got {key}={value!r}')
