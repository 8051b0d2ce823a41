"""Instance data shipped with cnisim (installed as the ``cnisim.data`` package)."""
