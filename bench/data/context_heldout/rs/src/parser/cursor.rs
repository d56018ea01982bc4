pub struct Cursor {
    offset: usize,
}

impl Cursor {
    pub fn advance(&mut self) -> usize {
        self.offset += 1;
        self.offset
    }
}
