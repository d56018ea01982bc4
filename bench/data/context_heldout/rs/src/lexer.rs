pub struct Lexer {
    pos: usize,
}

impl Lexer {
    pub fn advance(&mut self) -> usize {
        self.pos += 1;
        self.pos
    }
}

pub fn tokenize_lossy(input: &str) -> Vec<String> {
    input.split(' ').map(String::from).collect()
}
