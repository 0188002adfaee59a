print("hark-models")
