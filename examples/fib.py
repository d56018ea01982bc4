"""Fibonacci numbers, iteratively."""


def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number (fibonacci(0) == 0)."""
    a, b = 0, 1
    for _ in range(n):
        
    return a


if __name__ == "__main__":
    print([fibonacci(i) for i in range(10)])
