# eval layer tests: PrefWorld determinism and properties, judges on hand-written texts, statistics
# and reports. No models; runs in seconds.
pad_test(test_eval test_eval_world.cpp test_prefworld_contrastive.cpp test_eval_judges.cpp test_eval_report.cpp
         test_eval_personalization.cpp)
target_link_libraries(test_eval PRIVATE pad_eval)

# `pad eval` end to end on the tiny fixture model (PrefWorld with 4 prompts, 8 new tokens): one
# judged line per (prompt, method, preference), table, summary, charts, bad input. Under a minute.
pad_test(test_eval_cli test_eval_cli.cpp)
target_link_libraries(test_eval_cli PRIVATE pad_model)
add_dependencies(test_eval_cli pad)

# The pipeline end to end in miniature (issue 6): a couple of minutes on 2 cores.
pad_test(test_e2e_pipeline COST 120 test_e2e_pipeline.cpp)
target_link_libraries(test_e2e_pipeline PRIVATE pad_util)
add_dependencies(test_e2e_pipeline pad)

# Personalization in miniature (issue 12): a LoRA PersRM trained on contrastive twins from the
# committed base flips its preference with the principle on held-out twins. About 2.5 CPU-minutes
# (10.5 min wall on a 2-core machine at load 12), so a longer timeout than pad_test's.
add_executable(test_persona_e2e test_persona_e2e.cpp)
target_link_libraries(test_persona_e2e PRIVATE GTest::gtest GTest::gtest_main pad_eval pad_util)
target_compile_definitions(test_persona_e2e PRIVATE ${PAD_TEST_DEFS})
# "slow": 200 s in Release, over 12 min under ASan (a LoRA trained end to end); the sanitizer stage skips it.
gtest_discover_tests(test_persona_e2e DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 1500 LABELS slow COST 240)
add_dependencies(test_persona_e2e pad)

# The story world (issue 12): judges on hand-written stories, openings, twin building. No models.
pad_test(test_stories test_stories.cpp)
target_link_libraries(test_stories PRIVATE pad_eval)

# The story world from the command line: data determinism, bad input, and the committed story PersRM
# ranking held-out twins by the principle. About a minute.
pad_test(test_stories_cli test_stories_cli.cpp)
target_link_libraries(test_stories_cli PRIVATE pad_util)
add_dependencies(test_stories_cli pad)
