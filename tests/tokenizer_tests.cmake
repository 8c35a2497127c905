# Tokenizer layer tests: golden vectors from llama.cpp / Hugging Face, chat templates, bad inputs.
pad_test(test_tokenizer
  test_tokenizer_vectors.cpp
  test_tokenizer_roundtrip.cpp
  test_tokenizer_chat.cpp
  test_tokenizer_errors.cpp
  test_tokenizer_families.cpp)
target_link_libraries(test_tokenizer PRIVATE pad_tokenizer)

# The Jinja engine against jinja2 (tests/chat_render.py) and its errors.
pad_test(test_jinja test_jinja.cpp)
target_link_libraries(test_jinja PRIVATE pad_tokenizer)
pad_test(test_jinja_cli test_jinja_cli.cpp)
target_link_libraries(test_jinja_cli PRIVATE pad_tokenizer)
add_dependencies(test_jinja_cli pad)
