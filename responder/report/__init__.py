"""The incident report: MTTA, MTTR, how much automation fixed, per rule and team; and the daily digest."""
