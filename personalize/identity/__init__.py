"""Recognising visitors: the signed cookie, bots, devices, consent."""
