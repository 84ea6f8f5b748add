"""Shogi itself: encoding, the batched environment (C++ on cshogi), records."""
