"""The `xbench` commands, thin: each parses its options, loads results, asks the data modules
(leaderboard, stats, tables) and hands the result to xbench.render. xbench/cli.py registers
them. options.py holds what several share; run.py, table.py, tasks.py and leaderboard.py (the
`leaderboard` and `compare` commands) one command group each."""
