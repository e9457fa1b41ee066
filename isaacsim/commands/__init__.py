"""One module per `isaacsim` command: each parses and validates its options, calls the library and
prints (tables and figures through `isaacsim.report`).

Every command module has the same interface:

- `NAME`: the command's name on the command line (the module's name, less a trailing `_` where
  the name is a Python keyword, as for `import_`);
- `HELP`: its one-line help in `isaacsim --help`;
- `add_arguments(parser)`: adds its arguments (and sub-commands, as `zoo` does) to its parser;
- `run(args) -> int`: runs it; the exit code (an `IsaacsimError` raised here becomes one line on
  stderr and exit 2 in `isaacsim.cli`).

Module level imports stay light (argparse and the shared options): heavy packages (torch, pandas,
matplotlib, the simulator) are imported inside `run`, so `isaacsim --help` starts fast.
`COMMANDS` lists the modules in the order `isaacsim --help` shows them.
"""

from isaacsim.commands import calibrate, describe, import_, report, run, schema, sweep, train, zoo

COMMANDS = (describe, run, calibrate, report, sweep, zoo, train, import_, schema)

__all__ = ["COMMANDS"]
