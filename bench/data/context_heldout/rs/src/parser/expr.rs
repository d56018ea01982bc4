use super::{tokenize, Parser};
use crate::{render};

pub fn parse_expr(p: &mut Parser, input: &str) -> String {
    let tokens = tokenize(input);
    p.advance();
    render(&tokens)
}
