// The module overview (Synthetic's purpose, guarantees and notation) is Synthetic.docc/Synthetic.md.
public enum Synthetic {}
