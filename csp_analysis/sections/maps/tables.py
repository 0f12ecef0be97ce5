"""The maps section's tables as shown (reader-facing column names)."""
from __future__ import annotations

import pandas as pd


def _gi_display(r: pd.DataFrame, names: dict) -> pd.DataFrame:
    """The Gi* result by LSOA as shown."""
    return pd.DataFrame({
        "LSOA": r["lsoa_code"], "Name": r["lsoa_code"].map(names), "Records": r["count"].astype(int),
        "Neighbours": r["neighbours"].astype(int),
        "Neighbourhood records per LSOA / average": r["value"], "Lower 95%": r["lower"], "Upper 95%": r["upper"],
        "Gi* z": r["gi_z"], "p-value": r["p_value"], "Result": r["classification"],
    })


GI_FLOAT_DP = {"Neighbourhood records per LSOA / average": 2, "Lower 95%": 2, "Upper 95%": 2, "Gi* z": 2,
               "p-value": 4}


def emerging_display(em: pd.DataFrame) -> pd.DataFrame:
    """The LSOAs with a pattern, by pattern and latest Gi* z, as shown."""
    shown = em[em["classification"] != "No pattern"].sort_values(["classification", "latest_z"],
                                                                    ascending=[True, False])
    return shown[["lsoa_code", "name", "classification", "hot_periods", "cold_periods", "periods", "latest_z",
                  "tau", "trend_p", "trend"]].rename(columns={
                      "lsoa_code": "LSOA", "name": "Name", "classification": "Pattern",
                      "hot_periods": "Quarters hot", "cold_periods": "Quarters cold", "periods": "Quarters",
                      "latest_z": "Latest Gi* z", "tau": "Kendall tau", "trend_p": "Trend p-value",
                      "trend": "Trend"})


EMERGING_FLOAT_DP = {"Latest Gi* z": 2, "Kendall tau": 2, "Trend p-value": 4}
