"""The ``pfa`` subcommands, one module each (see ``forensics.commands.base.Command``)."""
