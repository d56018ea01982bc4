/// Line 0: what normalisation does to paths, separators and case.
/// Line 1: what normalisation does to paths, separators and case.
/// Line 2: what normalisation does to paths, separators and case.
/// Line 3: what normalisation does to paths, separators and case.
/// Line 4: what normalisation does to paths, separators and case.
/// Line 5: what normalisation does to paths, separators and case.
/// Line 6: what normalisation does to paths, separators and case.
/// Line 7: what normalisation does to paths, separators and case.
/// Line 8: what normalisation does to paths, separators and case.
/// Line 9: what normalisation does to paths, separators and case.
/// Line 10: what normalisation does to paths, separators and case.
/// Line 11: what normalisation does to paths, separators and case.
/// Line 12: what normalisation does to paths, separators and case.
/// Line 13: what normalisation does to paths, separators and case.
/// Line 14: what normalisation does to paths, separators and case.
/// Line 15: what normalisation does to paths, separators and case.
/// Line 16: what normalisation does to paths, separators and case.
/// Line 17: what normalisation does to paths, separators and case.
/// Line 18: what normalisation does to paths, separators and case.
/// Line 19: what normalisation does to paths, separators and case.
/// Line 20: what normalisation does to paths, separators and case.
/// Line 21: what normalisation does to paths, separators and case.
/// Line 22: what normalisation does to paths, separators and case.
/// Line 23: what normalisation does to paths, separators and case.
/// Line 24: what normalisation does to paths, separators and case.
/// Line 25: what normalisation does to paths, separators and case.
/// Line 26: what normalisation does to paths, separators and case.
/// Line 27: what normalisation does to paths, separators and case.
/// Line 28: what normalisation does to paths, separators and case.
/// Line 29: what normalisation does to paths, separators and case.
pub fn normalize(path: &str) -> String {
    path.replace('\\', "/").to_lowercase()
}
