"""The command's workflows (folders, batches, journal, events); imports client and contract."""
