mod cursor;
mod expr;

pub struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    pub fn advance(&mut self) -> Option<&String> {
        self.pos += 1;
        self.tokens.get(self.pos)
    }
}

pub fn tokenize(input: &str) -> Vec<String> {
    input.split_whitespace().map(String::from).collect()
}
