mod lexer;
mod parser;
mod util;

use crate::util::normalize;

pub fn render(tokens: &[String]) -> String {
    tokens.join(" ")
}

pub fn clean(path: &str) -> String {
    normalize(path)
}
