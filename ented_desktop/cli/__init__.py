"""The ``ented`` command, one module per subcommand (``cmd_<name>.py``). May import ``ented_desktop.core`` and
``training``; nothing imports it but the entry point."""
