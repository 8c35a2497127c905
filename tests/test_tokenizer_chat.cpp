// Chat templates: every published template in ../shared/testdata/templates renders, through pad's
// Jinja engine (the default), byte for byte what an independent Jinja implementation rendered; the
// built-in renderers (named fallbacks) reproduce the four families they cover, and recognition
// survives other releases.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pad/tokenizer/chat_template.h"
#include "pad/util/file.h"

#include <cctype>

namespace pad {
namespace {

using Json = nlohmann::json;
const std::string kTemplates = std::string(PAD_SHARED_DIR) + "/testdata/templates/";

std::vector<ChatMessage> to_messages(const Json& j) {
  std::vector<ChatMessage> out;
  for (const Json& m : j) out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  return out;
}

struct Case {
  const char* file;
  const char* family;  // the built-in renderer that also reproduces it, or "" for none
  const char* bos;
  const char* eos;
};

// Compares render(messages, gen) with every conversation × generation-prompt entry of `file`'s
// expected.json (text, or {"error": message} that the thrown std::invalid_argument must contain).
template <typename Render>
int check_expected(const std::string& file, Render render) {
  Json conversations = Json::parse(read_file(kTemplates + "conversations.json"));
  Json expected = Json::parse(read_file(kTemplates + file + ".expected.json"));
  int checked = 0;
  for (auto it = conversations.begin(); it != conversations.end(); ++it) {
    for (bool gen : {false, true}) {
      std::string key = it.key() + (gen ? "+generation_prompt" : "");
      if (!expected.contains(key)) {
        ADD_FAILURE() << file << ": no expected entry " << key;
        continue;
      }
      const Json& want = expected[key];
      std::vector<ChatMessage> msgs = to_messages(it.value());
      if (want.is_object()) {
        std::string message = want["error"].get<std::string>();
        try {
          render(msgs, gen);
          ADD_FAILURE() << file << " " << key << ": expected the error '" << message << "'";
        } catch (const std::invalid_argument& e) {
          EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
        }
      } else {
        try {
          EXPECT_EQ(render(msgs, gen), want.get<std::string>()) << file << " " << key;
        } catch (const std::exception& e) {
          ADD_FAILURE() << file << " " << key << ": " << e.what();
        }
      }
      ++checked;
    }
  }
  return checked;
}

class PublishedTemplates : public ::testing::TestWithParam<Case> {};

TEST_P(PublishedTemplates, JinjaEngineReproducesExpectedTextByteForByte) {
  const Case& c = GetParam();
  std::string text = read_file(kTemplates + c.file + ".jinja");
  EXPECT_EQ(check_expected(c.file, [&](const std::vector<ChatMessage>& msgs, bool gen) {
              return render_chat(text, msgs, gen, c.bos, c.eos);
            }), 4);
}

// The BOS/EOS texts each expected.json was rendered with (render.py's arguments; the tool-use and
// functionary fixtures were rendered with BOS "<").
const Case kCases[] = {Case{"Qwen-Qwen2.5-7B-Instruct", "chatml", "", "<|im_end|>"},
                      Case{"meta-llama-Llama-3.1-8B-Instruct", "llama3", "<|begin_of_text|>", "<|eot_id|>"},
                      Case{"mistralai-Mistral-Nemo-Instruct-2407", "mistral", "<s>", "</s>"},
                      Case{"google-gemma-2-2b-it", "gemma", "<bos>", "<eos>"},
                      Case{"CohereForAI-c4ai-command-r-plus-tool_use", "", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"},
                      Case{"CohereForAI-c4ai-command-r7b-12-2024-tool_use", "", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"},
                      Case{"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "", "<", ""},
                      Case{"NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "", "<", ""},
                      Case{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
                      Case{"llama-cpp-deepseek-r1", "", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
                      Case{"meetkai-functionary-medium-v3.1", "", "<", ""},
                      Case{"meetkai-functionary-medium-v3.2", "", "<", ""},
                      Case{"meta-llama-Llama-3.3-70B-Instruct", "", "<", ""}};

INSTANTIATE_TEST_SUITE_P(
    Fixtures, PublishedTemplates, ::testing::ValuesIn(kCases),
    [](const auto& info) {
      std::string name;
      for (char ch : std::string(info.param.file)) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

TEST(BuiltinRenderers, ReproduceTheFamiliesTheyCover) {
  int families = 0;
  for (const Case& c : kCases) {
    if (std::string(c.family).empty()) continue;
    std::string text = read_file(kTemplates + c.file + ".jinja");
    EXPECT_EQ(detect_chat_template(text), c.family);
    EXPECT_EQ(check_expected(c.file, [&](const std::vector<ChatMessage>& msgs, bool gen) {
                return render_chat(text, msgs, gen, c.bos, c.eos, c.family);
              }), 4);
    ++families;
  }
  EXPECT_EQ(families, 4);
}

const std::vector<ChatMessage> kChat = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

TEST(ChatVariants, MinimalChatmlHasNoDefaultSystem) {
  const std::string t =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
      "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  EXPECT_EQ(render_chat(t, {{"user", "Hi"}}, true, "", "<|im_end|>"),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatVariants, QwenDefaultSystemPromptIsReadFromTheTemplate) {
  std::string t = read_file(kTemplates + "Qwen-Qwen2.5-7B-Instruct.jinja");
  t = replace_all(t, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", "You are a tiny model.");
  EXPECT_EQ(render_chat(t, {{"user", "Hi"}}, false, "", ""),
            "<|im_start|>system\nYou are a tiny model.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatVariants, Llama31WithOtherDateAndSpacing) {
  std::string t = read_file(kTemplates + "meta-llama-Llama-3.1-8B-Instruct.jinja");
  t = replace_all(t, "26 Jul 2024", "01 Jan 2025");
  t = replace_all(t, "    ", "  ");
  EXPECT_EQ(render_chat(t, {{"user", " Hi "}}, true, "<|begin_of_text|>", ""),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 01 Jan 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatVariants, OriginalLlama3HasNoPreamble) {
  const std::string t =
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
      "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
      "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
      "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
  EXPECT_EQ(detect_chat_template(t), "llama3");
  EXPECT_EQ(render_chat(t, {{"system", "S"}, {"user", "U"}}, false, "<|begin_of_text|>", ""),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>");
}

TEST(ChatVariants, MistralV01SpacingAndLlama2SystemBlock) {
  const std::string v01 =
      "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
      "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
      "message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
      "'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}";
  for (const char* how : {"", "mistral"}) {  // the Jinja engine and the built-in agree
    EXPECT_EQ(render_chat(v01, {{"user", "Hi"}, {"assistant", "Yo"}, {"user", "Q"}}, true, "<s>", "</s>", how),
              "<s>[INST] Hi [/INST]Yo</s>[INST] Q [/INST]");
    EXPECT_THROW(render_chat(v01, kChat, true, "<s>", "</s>", how), std::invalid_argument);
  }
  const std::string llama2 =
      "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% endif %}{% if "
      "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
      "'\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' "
      "}}{{ ' '  + content.strip() + ' ' + eos_token }}";
  EXPECT_EQ(detect_chat_template(llama2), "llama2");
  // A fragment, not a whole template (it reads `message` outside any loop): only the built-in
  // renderer, chosen by name, renders it.
  EXPECT_THROW(render_chat(llama2, kChat, false, "<s>", "</s>"), std::invalid_argument);
  EXPECT_EQ(render_chat(llama2, kChat, false, "<s>", "</s>", "llama2"),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
}

TEST(ChatVariants, GemmaRefusesSystemAndZephyrIsRecognized) {
  std::string gemma = read_file(kTemplates + "google-gemma-2-2b-it.jinja");
  try {
    render_chat(gemma, kChat, true, "<bos>", "<eos>");
    FAIL() << "Gemma must refuse a system message";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("System role not supported"), std::string::npos);
  }
  const std::string zephyr =
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
      "eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif "
      "%}\n{% endfor %}";
  EXPECT_EQ(detect_chat_template(zephyr), "zephyr");
  EXPECT_EQ(render_chat(zephyr, {{"user", "Hi"}}, true, "<s>", "</s>"), "<|user|>\nHi</s>\n<|assistant|>\n");
}

TEST(ChatVariants, OverridesAndMissingTemplatesAreNamed) {
  // No template at all: the error names both forms of --chat-template.
  try {
    render_chat("", kChat, true, "", "");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--chat-template NAME"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chatml"), std::string::npos) << e.what();
  }
  // Any template renders as Jinja renders it, even one no built-in recognizes.
  EXPECT_EQ(render_chat("{{ messages[0].content }}|{{ messages|length }}", {{"user", "Hi"}}, false, "", ""), "Hi|1");
  EXPECT_EQ(render_chat("{{ messages }}", {{"user", "Hi"}}, false, "", "", "chatml"), "<|im_start|>user\nHi<|im_end|>\n");
  try {
    render_chat("", {{"user", "Hi"}}, false, "", "", "vicuna");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("neither a built-in chat template"), std::string::npos) << e.what();
  }
  // --chat-template FILE: the file's Jinja source replaces the model's template.
  std::string path = testing::TempDir() + "pad-override.jinja";
  write_file_atomic(path, "{% for m in messages %}[{{ m.role|upper }}] {{ m.content }}\n{% endfor %}");
  EXPECT_EQ(render_chat("{{ 'ignored' }}", kChat, false, "", "", path), "[SYSTEM] Be brief.\n[USER] Hi\n[ASSISTANT] Hello!\n[USER] Bye\n");
  // A broken template names itself and the line.
  try {
    render_chat("{% if %}", kChat, false, "", "");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "chat template line 1: expected an expression, found '%}'");
  }
}

TEST(ChatVariants, RichMessagesToolsAndThinkingReachTheTemplate) {
  const std::string t =
      "{% if tools %}{{ tools|map(attribute='name')|join(',') }};{% endif %}{% for m in messages %}{{ m.role }}"
      "{% if m.tool_calls %}->{{ m.tool_calls[0].function.name }}({{ m.tool_calls[0].function.arguments|tojson }})"
      "{% endif %};{% endfor %}{{ enable_thinking is defined and enable_thinking is false }}";
  nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(
      R"([{"role": "user", "content": "w?"}, {"role": "assistant", "content": null, "tool_calls": )"
      R"([{"function": {"name": "weather", "arguments": {"city": "Oslo", "days": 2}}}]}])");
  ChatOptions options;
  options.tools = nlohmann::ordered_json::parse(R"([{"name": "weather"}, {"name": "time"}])");
  options.enable_thinking = false;
  EXPECT_EQ(render_chat_jinja(t, msgs, true, "", "", options),
            "weather,time;user;assistant->weather({\"city\": \"Oslo\", \"days\": 2});True");
  EXPECT_EQ(render_chat_jinja(t, msgs, true, "", ""), "user;assistant->weather({\"city\": \"Oslo\", \"days\": 2});False");
}

}  // namespace
}  // namespace pad
