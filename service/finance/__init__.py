"""Finance: the asset register, monthly book schedules and spreadsheet-exact depreciation."""
