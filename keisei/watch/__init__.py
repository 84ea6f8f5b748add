"""``keisei watch``: a local web page over run directories, read-only.

run.py reads a run directory as it grows (``RunView``: events.jsonl followed from where it
was last read, config.yaml, ratings.json, the game records, the checkpoints), each damaged
file reported and the rest kept; games.py turns one record into what the game viewer
shows (positions, moves in KIF and USI notation, the board as SVG); analysis.py is the
network's value and policy for a shown position (a checkpoint's model, cached, on the
CPU); server.py is the Starlette application (security: loopback or a token, paths
confined to the named run directories) and ``serve``. The page itself is static/.
"""
