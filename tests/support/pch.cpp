// The translation unit that builds the test suites' shared precompiled header
// (tests/CMakeLists.txt, wrsec_test_pch); the program does nothing and is never run.
int main() {
  return 0;
}
